'use strict'

// The published package, installed the way applications get it: `npm pack`, then
// `npm install <tarball>` into an existing Express app (a fixture with its own package.json
// and lockfile) on a machine with Rust and no prior build: the addon compiles during install.
// And the prebuilt path: leakwatch as released (scripts/pack-release.js) with the linux-x64-gnu
// platform package, installed with no Rust on PATH and no install scripts.

const test = require('node:test')
const assert = require('node:assert/strict')
const fs = require('node:fs')
const os = require('node:os')
const path = require('node:path')
const { execFileSync } = require('node:child_process')
const { root, runCommand, jsonLines, notChecked } = require('./helpers')
const { PLATFORMS, packageName, platformManifest } = require('../scripts/platforms')
const { packMain, packPlatform } = require('../scripts/pack-release')

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

// A PATH of node, npm and sh only: no cargo or rustc, wherever this machine keeps them.
function pathWithoutRust() {
  const bin = fs.mkdtempSync(path.join(work, 'bin-'))
  const npmCli = fs.realpathSync(execFileSync('sh', ['-c', 'command -v npm'], { encoding: 'utf8' }).trim())
  fs.symlinkSync(process.execPath, path.join(bin, 'node'))
  fs.symlinkSync(npmCli, path.join(bin, 'npm'))
  fs.symlinkSync('/bin/sh', path.join(bin, 'sh'))
  return bin
}

/** The files a plain `npm pack` of this repository ships. */
async function plainFiles() {
  const r = await runCommand('npm', ['pack', '--dry-run', '--json'])
  assert.equal(r.code, 0, r.stderr)
  return JSON.parse(r.stdout.slice(r.stdout.indexOf('[')))[0].files.map((f) => f.path)
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

  const r = await npm(['install', tarball], app, { env: { PATH: pathWithoutRust() } })
  const output = r.stdout + r.stderr
  assert.notEqual(r.code, 0, output)
  assert.match(output, /leakwatch: no prebuilt binary for \S+ \(Node\.js v[\d.]+\), and building one from source needs the Rust toolchain: `cargo` was not found on PATH/)
  assert.match(output, /https:\/\/rustup\.rs/)
  assert.doesNotMatch(output, /Compiling|cargo build|error\[E/, 'no cargo output')
  assert.equal(fs.readFileSync(path.join(app, 'package.json'), 'utf8'), before, 'package.json unchanged')
  assert.ok(!fs.existsSync(path.join(app, 'node_modules', 'leakwatch')), 'no half-installed package')
})

test('every platform package matches leakwatch: name, version, main, os, cpu, libc', () => {
  const manifest = JSON.parse(fs.readFileSync(path.join(root, 'package.json'), 'utf8'))
  // Listed only in the released manifest: `npm ci` fails on optional dependencies the
  // lockfile cannot hold, which unpublished ones are (docs/release.md).
  assert.equal(manifest.optionalDependencies, undefined)
  assert.deepEqual(manifest.napi.targets, PLATFORMS.map((p) => p.target))
  for (const p of PLATFORMS) {
    const m = platformManifest(p)
    const [system, cpu, libc] = p.platform.split('-')
    assert.deepEqual(m.os, [system], p.platform)
    assert.deepEqual(m.cpu, [cpu], p.platform)
    assert.deepEqual(m.libc, system === 'linux' ? [libc === 'gnu' ? 'glibc' : 'musl'] : undefined, p.platform)
    assert.deepEqual(m.files, [m.main], p.platform)
  }
})

test('the prebuilt linux-x64-gnu package installs with no Rust and no install scripts: stats, leak, snapshot', async (t) => {
  const x64gnu = PLATFORMS.find((p) => p.platform === 'linux-x64-gnu')
  const addon = path.join(root, 'leakwatch.linux-x64-gnu.node')
  if (process.platform !== 'linux' || process.arch !== 'x64' || !process.report.getReport().header.glibcVersionRuntime) {
    return notChecked(t, 'the prebuilt linux-x64-gnu install: this machine is not Linux x64 with glibc')
  }
  const dist = fs.mkdtempSync(path.join(work, 'dist-'))
  const main = packMain(dist)
  // The addon this checkout built, in a staged copy of npm/linux-x64-gnu.
  const platform = packPlatform(x64gnu, dist, { addon })
  assert.deepEqual(platform.files.map((f) => f.path).sort(), ['README.md', 'leakwatch.linux-x64-gnu.node', 'package.json'])

  const app = copyFixture('prebuilt')
  const ci = await npm(['ci'], app)
  assert.equal(ci.code, 0, ci.stderr)
  const noRust = pathWithoutRust()
  const started = Date.now()
  const install = await npm(['install', '--ignore-scripts', main.path, platform.path], app, { env: { PATH: noRust } })
  assert.equal(install.code, 0, `npm install:\n${install.stdout}\n${install.stderr}`)
  t.diagnostic(`npm install of the two tarballs: ${((Date.now() - started) / 1000).toFixed(1)} s`)
  const installed = fs.readdirSync(path.join(app, 'node_modules')).filter((d) => d.startsWith('leakwatch'))
  assert.deepEqual(installed.sort(), ['leakwatch', 'leakwatch-linux-x64-gnu'], 'no other platform package')
  const released = JSON.parse(fs.readFileSync(path.join(app, 'node_modules', 'leakwatch', 'package.json'), 'utf8'))
  assert.deepEqual(Object.keys(released.optionalDependencies).sort(), PLATFORMS.map(packageName).sort())
  assert.ok(Object.values(released.optionalDependencies).every((v) => v === released.version))
  assert.deepEqual(main.files.map((f) => f.path).sort(), (await plainFiles()).sort(), 'the same files as npm pack')
  assert.deepEqual(fs.readdirSync(path.join(app, 'node_modules', 'leakwatch')).filter((f) => f.endsWith('.node')), [],
    'nothing was built')

  fs.copyFileSync(path.join(scripts, 'platform-smoke.cjs'), path.join(app, 'smoke.cjs'))
  const smoke = await runCommand(process.execPath, ['smoke.cjs', '40000'], { cwd: app, env: { PATH: noRust }, timeoutMs: 50_000 })
  assert.equal(smoke.code, 0, smoke.stderr)
  const [out] = jsonLines(smoke)
  assert.equal(out.addon, path.join('node_modules', 'leakwatch-linux-x64-gnu', 'leakwatch.linux-x64-gnu.node'))
  assert.equal(out.source, 'v8')
  assert.ok(out.stats.fullGcs >= 1 && out.stats.heapAfterGc > 0, JSON.stringify(out.stats))
  assert.match(out.leak.reason, /^heap grew /)
  assert.ok(out.snapshot.bytes > 1e6, `snapshot of ${out.snapshot.bytes} bytes`)
  assert.ok(out.analysis.leakedRequests >= 20000, `${out.analysis.leakedRequests} LeakedRequest in the snapshot`)
  t.diagnostic(`leak after ${out.leak.afterMs} ms; snapshot ${out.snapshot.bytes} bytes; analysis ${out.analysis.ms} ms`)

  // With scripts allowed and still no Rust, the install script sees the platform package and does nothing.
  const rebuild = await npm(['rebuild', 'leakwatch', '--foreground-scripts'], app, { env: { PATH: noRust } })
  assert.equal(rebuild.code, 0, rebuild.stdout + rebuild.stderr)
  assert.doesNotMatch(rebuild.stdout + rebuild.stderr, /cargo|Rust toolchain/)
})
