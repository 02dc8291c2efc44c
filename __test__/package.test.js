'use strict'

// The published package, installed the way applications get it: `npm pack`, then
// `npm install <tarball>` into an existing Express app (a fixture with its own package.json
// and lockfile) on a machine with Rust and no prior build: the addon compiles during install.

const test = require('node:test')
const assert = require('node:assert/strict')
const fs = require('node:fs')
const os = require('node:os')
const path = require('node:path')
const { execFileSync } = require('node:child_process')
const { root, runCommand, jsonLines } = require('./helpers')

const fixture = path.join(__dirname, 'fixtures', 'existing-app')
const scripts = path.join(__dirname, 'fixtures', 'scripts')
const work = fs.mkdtempSync(path.join(os.tmpdir(), 'leakwatch-package-'))
const INSTALL_TIMEOUT_MS = 600_000

// npm with the caller's environment, minus anything that would reuse an earlier build.
function npm(args, cwd, { env = {}, timeoutMs = INSTALL_TIMEOUT_MS } = {}) {
  const base = { ...process.env }
  delete base.CARGO_TARGET_DIR
  delete base.LEAKWATCH_FORCE_BUILD
  for (const key of Object.keys(base)) if (key.startsWith('npm_')) delete base[key]
  return runCommand('npm', [...args, '--no-audit', '--no-fund'], {
    cwd, env: { ...base, ...env }, cleanEnv: true, timeoutMs,
  })
}

function copyFixture(name) {
  const dir = path.join(work, name)
  fs.cpSync(fixture, dir, { recursive: true, filter: (src) => !src.includes('node_modules') })
  return dir
}

let tarball = null

test.after(() => fs.rmSync(work, { recursive: true, force: true }))

test('npm pack ships the sources, the loader and the types, and nothing else', async (t) => {
  const r = await runCommand('npm', ['pack', '--json', '--pack-destination', work])
  assert.equal(r.code, 0, r.stderr)
  const [info] = JSON.parse(r.stdout.slice(r.stdout.indexOf('[')))
  tarball = path.join(work, info.filename)
  const files = info.files.map((f) => f.path)
  for (const needed of ['package.json', 'README.md', 'LICENSE', 'index.js', 'index.mjs',
    'index.d.ts', 'index.d.mts', 'binding.js', 'lib/watcher.js', 'lib/prometheus.js',
    'scripts/install.js', 'Cargo.toml', 'Cargo.lock', 'build.rs', 'src/lib.rs', 'bin/leakwatch.js',
    'lib/analysis.js', 'lib/report-text.js', 'lib/report-html.js', 'crates/analysis/src/lib.rs',
    'crates/analysis/Cargo.toml', 'crates/detection/src/lib.rs', 'crates/detection/Cargo.toml']) {
    assert.ok(files.includes(needed), `${needed} is in the tarball`)
  }
  const unwanted = files.filter((f) => /^(target|__test__|bench|examples|node_modules|\.ci)\//.test(f) ||
    f.endsWith('.node') || f.endsWith('.heapsnapshot') || f === 'binding.d.ts')
  assert.deepEqual(unwanted, [])
  assert.ok(info.size < 512 * 1024, `tarball ${info.size} bytes`)
  t.diagnostic(`${info.filename}: ${info.size} bytes packed, ${info.unpackedSize} unpacked, ${files.length} files`)
})

test('an existing Express app installs the tarball: the addon builds, require and import work', async (t) => {
  assert.ok(tarball, 'packed by the previous test')
  const app = copyFixture('app')
  const ci = await npm(['ci'], app)
  assert.equal(ci.code, 0, `npm ci in the app:\n${ci.stderr}`)

  const started = Date.now()
  const install = await npm(['install', tarball], app, { env: { CARGO_BUILD_JOBS: '1' } })
  assert.equal(install.code, 0, `npm install <tarball>:\n${install.stdout}\n${install.stderr}`)
  t.diagnostic(`npm install with the native build: ${((Date.now() - started) / 1000).toFixed(0)} s`)

  const installed = path.join(app, 'node_modules', 'leakwatch')
  const addons = fs.readdirSync(installed).filter((f) => f.endsWith('.node'))
  assert.equal(addons.length, 1, `one addon built: ${addons}`)
  assert.ok(!fs.existsSync(path.join(installed, 'target')), 'the cargo build directory is removed')
  const manifest = JSON.parse(fs.readFileSync(path.join(app, 'package.json'), 'utf8'))
  assert.match(manifest.dependencies.leakwatch, /leakwatch-0\.1\.0\.tgz$/)
  assert.ok(JSON.parse(fs.readFileSync(path.join(app, 'package-lock.json'), 'utf8'))
    .packages['node_modules/leakwatch'], 'the lockfile records leakwatch')

  // The app's own server with leakwatch added the documented way, over real HTTP.
  fs.copyFileSync(path.join(scripts, 'package-check.cjs'), path.join(app, 'check.cjs'))
  const cjs = await runCommand(process.execPath, ['check.cjs'], { cwd: app })
  assert.equal(cjs.code, 0, cjs.stderr)
  const [out] = jsonLines(cjs)
  assert.deepEqual(out.order, { id: 1, item: 'tea' })
  assert.equal(out.source, 'v8')
  assert.ok(out.fullGcs >= 1 && out.heap > 0)
  assert.deepEqual(out.peers.map((p) => p && p[0]), ['ERR_LEAKWATCH_PEER_MISSING', 'ERR_LEAKWATCH_PEER_MISSING'])
  assert.match(out.peers[0][1], /needs prom-client.*npm install prom-client/)
  assert.match(out.peers[1][1], /needs @opentelemetry\/api.*npm install @opentelemetry\/api/)

  fs.copyFileSync(path.join(scripts, 'package-check.mjs'), path.join(app, 'check.mjs'))
  const esm = await runCommand(process.execPath, ['check.mjs'], { cwd: app })
  assert.equal(esm.code, 0, esm.stderr)
  assert.deepEqual(jsonLines(esm), [{ same: true, api: 'function' }])

  // The command is installed: a snapshot of the app, analysed with npx.
  fs.copyFileSync(path.join(scripts, 'package-snapshot.cjs'), path.join(app, 'snapshot.cjs'))
  const snap = await runCommand(process.execPath, ['snapshot.cjs'], { cwd: app })
  assert.equal(snap.code, 0, snap.stderr)
  const npx = await runCommand('npx', ['--no-install', 'leakwatch', 'analyze', 'app.heapsnapshot', '--top', '3'], { cwd: app })
  assert.equal(npx.code, 0, npx.stderr)
  assert.match(npx.stdout, /app\.heapsnapshot: [\d,]+ nodes/)
  assert.match(npx.stdout, /Top classes by retained size/)
})

test('without a Rust toolchain the install fails with one clear message and changes nothing', async () => {
  assert.ok(tarball, 'packed by the first test')
  const app = copyFixture('no-rust')
  const ci = await npm(['ci'], app)
  assert.equal(ci.code, 0, ci.stderr)
  const before = fs.readFileSync(path.join(app, 'package.json'), 'utf8')

  // PATH holds node, npm and sh only: no cargo or rustc, wherever this machine keeps them.
  const bin = fs.mkdtempSync(path.join(work, 'bin-'))
  const npmCli = fs.realpathSync(execFileSync('sh', ['-c', 'command -v npm'], { encoding: 'utf8' }).trim())
  fs.symlinkSync(process.execPath, path.join(bin, 'node'))
  fs.symlinkSync(npmCli, path.join(bin, 'npm'))
  fs.symlinkSync('/bin/sh', path.join(bin, 'sh'))
  const r = await npm(['install', tarball], app, { env: { PATH: bin } })
  const output = r.stdout + r.stderr
  assert.notEqual(r.code, 0, output)
  assert.match(output, /leakwatch: no prebuilt binary for \S+ \(Node\.js v[\d.]+\), and building one from source needs the Rust toolchain: `cargo` was not found on PATH/)
  assert.match(output, /https:\/\/rustup\.rs/)
  assert.doesNotMatch(output, /Compiling|cargo build|error\[E/, 'no cargo output')
  assert.equal(fs.readFileSync(path.join(app, 'package.json'), 'utf8'), before, 'package.json unchanged')
  assert.ok(!fs.existsSync(path.join(app, 'node_modules', 'leakwatch')), 'no half-installed package')
})
