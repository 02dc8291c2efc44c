'use strict'

// `npm test`: the node tests, cargo test, clippy -D warnings and rustfmt, then a summary that
// names everything this machine could not check. A test that needs an optional tool the
// machine lacks (`script`, `unshare`: see docs/development.md) is skipped with notChecked()
// and listed there; a missing clippy or rustfmt component is listed the same way. Exits
// non-zero at the first failing step.

const fs = require('node:fs')
const os = require('node:os')
const path = require('node:path')
const { spawnSync } = require('node:child_process')

const root = path.join(__dirname, '..')
const tests = fs.readdirSync(path.join(root, '__test__')).filter((f) => f.endsWith('.test.js')).sort()
  .map((f) => path.join('__test__', f))
const records = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'leakwatch-test-')), 'not-checked.jsonl')
const notChecked = []
const ran = []

function step(label, command, args) {
  console.log(`\n> ${[command, ...args].join(' ')}`)
  const r = spawnSync(command, args, { cwd: root, stdio: 'inherit' })
  if (r.error || r.status !== 0) {
    console.error(`\nnpm test: ${label} failed (${r.error ? r.error.message : r.signal || `exit ${r.status}`})`)
    process.exit(r.status || 1)
  }
  ran.push(label)
}

/** Whether the rustup component behind `cargo <sub>` is installed. */
const hasCargo = (sub) => spawnSync('cargo', [sub, '--version'], { stdio: 'ignore' }).status === 0

step('node tests', process.execPath, ['--test', '--test-concurrency=4',
  '--test-reporter=spec', '--test-reporter-destination=stdout',
  `--test-reporter=${path.join(__dirname, 'not-checked-reporter.js')}`, `--test-reporter-destination=${records}`,
  ...tests])
for (const line of fs.readFileSync(records, 'utf8').split('\n').filter(Boolean)) {
  const { file, name, reason } = JSON.parse(line)
  notChecked.push(`${file} › ${name}: ${reason}`)
}
fs.rmSync(path.dirname(records), { recursive: true, force: true })
step('cargo test', 'cargo', ['test', '--quiet'])
if (hasCargo('clippy')) step('clippy', 'cargo', ['clippy', '--all-targets', '--quiet', '--', '-D', 'warnings'])
else notChecked.push('clippy: the rustup component is not installed (rustup component add clippy)')
if (hasCargo('fmt')) step('rustfmt', 'cargo', ['fmt', '--check'])
else notChecked.push('rustfmt: the rustup component is not installed (rustup component add rustfmt)')

console.log(`\nnpm test: passed (${ran.join(', ')})`)
if (notChecked.length === 0) {
  console.log('npm test: everything was checked on this machine')
} else {
  console.log(`npm test: NOT CHECKED on this machine (${notChecked.length}), for want of an optional tool:`)
  for (const line of notChecked) console.log(`  - ${line}`)
}
