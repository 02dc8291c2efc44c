'use strict'

// `npm run check:fresh`: the README's quick start on a machine that has nothing but Node.js and
// Rust, as near as one process can make it. It clones the committed HEAD of this repository
// into a temporary directory and runs `npm ci && npm test` there with
//
// - an empty npm cache (npm_config_cache) and a temporary HOME, so no ~/.npmrc, no earlier
//   download and no earlier unpacked browser is used;
// - the real CARGO_HOME and RUSTUP_HOME (the Rust toolchain lives there) and a fresh target/;
// - PATH reduced to a directory of symlinks: node, npm, npx, the rustup proxies (cargo, rustc,
//   clippy, rustfmt), the C linker rustc drives (cc, ld) and basic shell tools. No chromium,
//   no `script`, `unshare`, `mount` or `setpriv`: the tests that need those report what they
//   could not check, and npm test's summary lists them.
//
// It fails if either command fails, or if a chromium is reachable on the reduced PATH. Slow
// (a release build, a debug build, clippy and the package test's own build): not part of
// `npm test`. LEAKWATCH_KEEP_FRESH=1 keeps the temporary directory.

const fs = require('node:fs')
const os = require('node:os')
const path = require('node:path')
const { spawnSync, execFileSync } = require('node:child_process')

const root = path.join(__dirname, '..')
const started = Date.now()
const elapsed = () => `${((Date.now() - started) / 1000).toFixed(0)} s`

function which(name) {
  try {
    return execFileSync('sh', ['-c', `command -v ${name}`], { encoding: 'utf8' }).trim()
  } catch {
    return null
  }
}

const work = fs.mkdtempSync(path.join(os.tmpdir(), 'leakwatch-fresh-'))
// Like a checkout under /home or /srv: others may traverse it (a snapshot test runs a child as nobody).
fs.chmodSync(work, 0o755)
const clone = path.join(work, 'leakwatch')
const home = path.join(work, 'home')
const cache = path.join(work, 'npm-cache')
const tmp = path.join(work, 'tmp')
const bin = path.join(work, 'bin')
for (const dir of [home, cache, tmp, bin]) fs.mkdirSync(dir)

const head = execFileSync('git', ['-C', root, 'rev-parse', 'HEAD'], { encoding: 'utf8' }).trim()
const dirty = execFileSync('git', ['-C', root, 'status', '--porcelain', '--untracked-files=no'], { encoding: 'utf8' }).trim()
console.log(`check-fresh: cloning ${head}${dirty ? ' (uncommitted changes are not part of the check)' : ''} into ${clone}`)
execFileSync('git', ['clone', '--quiet', '--no-checkout', root, clone], { stdio: 'inherit' })
execFileSync('git', ['-C', clone, 'checkout', '--quiet', '--detach', head], { stdio: 'inherit' })

// The toolchain's homes: from the environment, else rustup's defaults under the real HOME.
const realHome = os.homedir()
const cargoHome = process.env.CARGO_HOME || path.join(realHome, '.cargo')
const rustupHome = process.env.RUSTUP_HOME || path.join(realHome, '.rustup')

// PATH: one directory of symlinks.
const links = {}
links.node = process.execPath
const npmCli = which('npm')
if (!npmCli) throw new Error('check-fresh: npm is not on PATH')
links.npm = fs.realpathSync(npmCli)
links.npx = path.join(path.dirname(links.npm), 'npx-cli.js')
const cargo = which('cargo')
if (!cargo) throw new Error('check-fresh: cargo is not on PATH')
for (const tool of ['cargo', 'rustc', 'rustdoc', 'cargo-clippy', 'clippy-driver', 'cargo-fmt', 'rustfmt', 'rustup']) {
  const found = path.join(path.dirname(cargo), tool)
  if (fs.existsSync(found)) links[tool] = found
}
const shellTools = ['sh', 'bash', 'env', 'cat', 'ls', 'mkdir', 'rm', 'cp', 'mv', 'ln', 'chmod', 'touch',
  'uname', 'grep', 'sed', 'head', 'tail', 'tr', 'sort', 'wc', 'dirname', 'basename', 'readlink', 'mktemp', 'true', 'false']
for (const tool of ['cc', 'ld', ...shellTools]) {
  const found = which(tool)
  if (found) links[tool] = found
}
for (const [name, target] of Object.entries(links)) fs.symlinkSync(target, path.join(bin, name))

const env = {
  PATH: bin,
  HOME: home,
  TMPDIR: tmp,
  npm_config_cache: cache,
  CARGO_HOME: cargoHome,
  RUSTUP_HOME: rustupHome,
  LANG: 'C.UTF-8',
}
for (const [key, value] of Object.entries(process.env)) if (key.startsWith('RUSTUP_') && !(key in env)) env[key] = value
console.log(`check-fresh: PATH=${bin}: ${Object.keys(links).join(' ')}`)
console.log(`check-fresh: HOME=${home} npm_config_cache=${cache} CARGO_HOME=${cargoHome} RUSTUP_HOME=${rustupHome}`)

const reachable = spawnSync('sh', ['-c', 'command -v chromium || command -v chromium-browser'], { env, encoding: 'utf8' })
if (reachable.status === 0) throw new Error(`check-fresh: a system chromium is reachable: ${reachable.stdout.trim()}`)
console.log('check-fresh: no chromium on this PATH')

function run(command, args) {
  const t0 = Date.now()
  console.log(`\ncheck-fresh: $ ${[command, ...args].join(' ')}`)
  const r = spawnSync(command, args, { cwd: clone, env, stdio: 'inherit' })
  const seconds = ((Date.now() - t0) / 1000).toFixed(0)
  if (r.error || r.status !== 0) {
    console.error(`\ncheck-fresh: FAILED: ${command} ${args.join(' ')} (${r.error ? r.error.message : r.signal || `exit ${r.status}`}) after ${seconds} s; kept ${work}`)
    process.exit(1)
  }
  console.log(`check-fresh: ${command} ${args.join(' ')} passed in ${seconds} s`)
  return seconds
}

const ci = run(path.join(bin, 'npm'), ['ci'])
const test = run(path.join(bin, 'npm'), ['test'])
if (process.env.LEAKWATCH_KEEP_FRESH) console.log(`check-fresh: kept ${work}`)
else fs.rmSync(work, { recursive: true, force: true })
console.log(`\ncheck-fresh: passed in ${elapsed()} (npm ci ${ci} s, npm test ${test} s) on a fresh clone of ${head.slice(0, 12)}`)
