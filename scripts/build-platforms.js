'use strict'

// `npm run build:platforms [-- <platform>…]`: builds the addon of every per-platform package
// this machine can build into npm/<platform>/leakwatch.<platform>.node, then prints a table of
// what was built (size, what it needs from the C library) and what was not, and why.
//
// How, on Linux:
// - Linux targets are linked by zig through cargo-zigbuild, which also pins the glibc a gnu
//   build may need (2.28, as the official Node.js 22 binaries). cargo-zigbuild and zig come
//   from PyPI (packages `cargo-zigbuild`, `ziglang`), installed on first use into a virtual
//   environment outside the repository ($LEAKWATCH_TOOLS, default ~/.cache/leakwatch/tools).
// - A target whose standard library rustup has not installed is built with -Zbuild-std from a
//   rustc that ships its library sources: Debian's `rustc-web` with `rust-web-src` (or the
//   rustc in $LEAKWATCH_BUILD_STD_RUSTC), with RUSTC_BOOTSTRAP=1.
// - musl builds are dynamic libraries (`-C target-feature=-crt-static`), as a Node addon must be.
// - zig's linker has one strip flag: asked to strip debug info (`strip = "debuginfo"` in
//   Cargo.toml) it also drops the symbol table that profilers and crash reports use. So zig
//   builds link unstripped and binutils' objcopy (`aarch64-linux-gnu-objcopy` for arm64, from
//   Debian's binutils-aarch64-linux-gnu) removes the debug info afterwards.
// - macOS and Windows targets need their own OS: on those runners
//   (.github/workflows/release.yml) the same script builds the host target with plain cargo.
// Without zig, the host target is still built with plain cargo (needing this machine's glibc).

const fs = require('node:fs')
const os = require('node:os')
const path = require('node:path')
const { spawnSync } = require('node:child_process')
const {
  root, PLATFORMS, addonPath, platformManifest, elfMachine, elfNeeds, compareVersions,
} = require('./platforms')

const tools = process.env.LEAKWATCH_TOOLS || path.join(os.homedir(), '.cache', 'leakwatch', 'tools')
const venvBin = path.join(tools, 'venv', 'bin')

function capture(cmd, args, opts = {}) {
  const r = spawnSync(cmd, args, { encoding: 'utf8', ...opts })
  return r.status === 0 ? r.stdout.trim() : null
}

const hostTriple = (capture('rustc', ['-vV']) || '').match(/^host: (\S+)/m)?.[1] || null
const installedTargets = (capture('rustup', ['target', 'list', '--installed']) || hostTriple || '')
  .split('\n').filter(Boolean)

/** cargo-zigbuild and zig: on PATH, in the tools environment, or installed there from PyPI. */
function findZigbuild() {
  const onPath = capture('cargo-zigbuild', ['--version'])
  if (onPath) return { env: {}, version: onPath }
  const local = path.join(venvBin, 'cargo-zigbuild')
  if (!fs.existsSync(local) && process.platform === 'linux') {
    const python = capture('python3', ['--version']) ? 'python3' : null
    if (!python) return { missing: 'cargo-zigbuild and zig are not installed and python3 is missing (pip install ziglang cargo-zigbuild)' }
    console.log(`installing cargo-zigbuild and zig from PyPI into ${path.dirname(venvBin)}`)
    const made = spawnSync(python, ['-m', 'venv', path.dirname(venvBin)], { stdio: 'inherit' })
    const pip = made.status === 0 && spawnSync(path.join(venvBin, 'pip'), ['install', '--quiet',
      'ziglang', 'cargo-zigbuild'], { stdio: 'inherit' })
    if (!pip || pip.status !== 0) return { missing: 'pip could not install ziglang and cargo-zigbuild' }
  }
  if (!fs.existsSync(local)) return { missing: 'cargo-zigbuild is not installed' }
  // The environment's python3 carries the `ziglang` module, which cargo-zigbuild runs as zig.
  const env = { PATH: `${venvBin}${path.delimiter}${process.env.PATH}` }
  return { env, version: capture(local, ['--version'], { env: { ...process.env, ...env } }) }
}

/** A rustc that ships its standard library's sources, for -Zbuild-std; null if none. */
function findBuildStdRustc(target) {
  for (const rustc of [process.env.LEAKWATCH_BUILD_STD_RUSTC, '/usr/bin/rustc'].filter(Boolean)) {
    const sysroot = capture(rustc, ['--print', 'sysroot'])
    if (!sysroot) continue
    if (!fs.existsSync(path.join(sysroot, 'lib', 'rustlib', 'src', 'rust', 'library', 'Cargo.lock'))) continue
    if (!(capture(rustc, ['--print', 'target-list']) || '').split('\n').includes(target)) continue
    return { rustc, version: capture(rustc, ['--version']) }
  }
  return null
}

const isLinux = (p) => p.target.includes('-linux-')
const isMusl = (p) => p.target.endsWith('-musl')

/** How this machine builds platform `p`: { command, args, env, how } or { reason }. */
function plan(p, zig) {
  if (!isLinux(p)) {
    if (p.target === hostTriple) return { command: 'cargo', args: ['build'], env: {}, how: 'cargo (native)' }
    if (installedTargets.includes(p.target) && os.platform() === (p.target.includes('darwin') ? 'darwin' : 'win32')) {
      return { command: 'cargo', args: ['build', '--target', p.target], env: {}, how: `cargo --target ${p.target}` }
    }
    return { reason: `needs a ${p.target.includes('darwin') ? 'macOS' : 'Windows'} runner (${p.runner} in .github/workflows/release.yml)` }
  }
  if (os.platform() !== 'linux') return { reason: 'Linux targets are built on Linux' }
  if (zig.missing) {
    if (p.target === hostTriple) {
      return { command: 'cargo', args: ['build'], env: {}, how: `cargo (native, this machine's glibc; ${zig.missing})` }
    }
    return { reason: zig.missing }
  }
  const zigTarget = p.glibc ? `${p.target}.${p.glibc}` : p.target
  const env = { ...zig.env, CARGO_PROFILE_RELEASE_STRIP: 'none' }
  const args = ['zigbuild', '--target', zigTarget]
  let how = `cargo-zigbuild --target ${zigTarget}`
  if (isMusl(p)) env.RUSTFLAGS = '-C target-feature=-crt-static'
  if (!installedTargets.includes(p.target)) {
    const std = findBuildStdRustc(p.target)
    if (!std) {
      return { reason: `no Rust standard library for ${p.target}: \`rustup target add ${p.target}\`, ` +
        'or a rustc with its sources for -Zbuild-std (Debian: rustc-web, rust-web-src)' }
    }
    Object.assign(env, { RUSTC: std.rustc, RUSTC_BOOTSTRAP: '1' })
    args.push('-Zbuild-std')
    how += ` -Zbuild-std (${std.version.split(' (')[0]} at ${std.rustc})`
  }
  return { command: 'cargo', args, env, how, stripDebug: true }
}

const OBJCOPY = { 'x86-64': ['objcopy', 'x86_64-linux-gnu-objcopy'], aarch64: ['aarch64-linux-gnu-objcopy'] }

/** Copies `from` to `to` without its debug info (binutils objcopy of the ELF's machine). */
function copyStrippingDebug(p, from, to) {
  for (const objcopy of OBJCOPY[p.machine] || []) {
    const r = spawnSync(objcopy, ['--strip-debug', from, to], { encoding: 'utf8' })
    if (r.status === 0) return `${objcopy} --strip-debug`
  }
  fs.copyFileSync(from, to)
  return `debug info kept: none of ${(OBJCOPY[p.machine] || []).join(', ')} could strip it`
}

/** Whether an ELF file keeps its symbol table and has no debug info (readelf -S). */
function elfSections(file) {
  const r = spawnSync('readelf', ['-S', '-W', file], { encoding: 'utf8' })
  if (r.status !== 0) return ''
  return [/\.symtab\b/.test(r.stdout) ? 'symbol table kept' : 'NO symbol table',
    /\.debug_/.test(r.stdout) ? 'with debug info' : null].filter(Boolean).join(', ')
}

/** Runs the cargo build of `step` and returns the cdylib it produced. */
function build(step) {
  const r = spawnSync(step.command, [...step.args, '--release', '--locked', '-p', 'leakwatch',
    '--message-format=json-render-diagnostics'], {
    cwd: root,
    env: { ...process.env, ...step.env },
    encoding: 'utf8',
    maxBuffer: 256 * 1024 * 1024,
    stdio: ['ignore', 'pipe', 'inherit'],
  })
  if (r.error || r.status !== 0) throw new Error(`cargo exited with ${r.error ? r.error.message : r.status} (output above)`)
  let library = null
  for (const line of r.stdout.split('\n')) {
    if (!line.startsWith('{')) continue
    const message = JSON.parse(line)
    if (message.reason === 'compiler-artifact' && message.target.kind.includes('cdylib')) {
      library = message.filenames.find((f) => /\.(so|dylib|dll)$/.test(f))
    }
  }
  if (!library) throw new Error('cargo finished without producing the addon library')
  return library
}

function describe(p, file) {
  const size = `${(fs.statSync(file).size / 1024).toFixed(0)} kB`
  if (!isLinux(p)) return { size, notes: '' }
  const machine = elfMachine(file)
  if (machine !== p.machine) throw new Error(`built for ${machine}, expected ${p.machine}`)
  const sections = elfSections(file)
  const needs = elfNeeds(file)
  if (!needs) return { size, notes: `objdump not found: C library needs not checked; ${sections}` }
  if (isMusl(p)) return { size, notes: `links ${needs.needed.join(', ')}; ${sections}` }
  const newest = needs.glibc[needs.glibc.length - 1]
  if (p.glibc && compareVersions(newest, p.glibc) > 0) {
    throw new Error(`needs GLIBC_${newest}, newer than the ${p.glibc} it targets`)
  }
  return { size, notes: `glibc >= ${newest} (symbol versions ${needs.glibc.join(' ')}); ${sections}` }
}

const wanted = process.argv.slice(2)
for (const name of wanted) {
  if (!PLATFORMS.some((p) => p.platform === name)) {
    console.error(`build-platforms: unknown platform ${name} (known: ${PLATFORMS.map((p) => p.platform).join(', ')})`)
    process.exit(2)
  }
}
const selected = PLATFORMS.filter((p) => wanted.length === 0 || wanted.includes(p.platform))
const zig = PLATFORMS.some((p) => isLinux(p)) && os.platform() === 'linux' ? findZigbuild() : { missing: 'not on Linux' }
if (zig.version) console.log(`using ${zig.version}`)

const rows = []
let failed = false
for (const p of selected) {
  platformManifest(p)
  const step = plan(p, zig)
  if (step.reason) {
    rows.push({ platform: p.platform, status: 'not built', how: '', size: '', notes: step.reason })
    continue
  }
  console.log(`\n== ${p.platform}: ${step.how}`)
  const started = Date.now()
  try {
    const library = build(step)
    const temporary = `${addonPath(p)}.${process.pid}.tmp`
    if (step.stripDebug) step.how += `, ${copyStrippingDebug(p, library, temporary)}`
    else fs.copyFileSync(library, temporary)
    fs.renameSync(temporary, addonPath(p))
    const { size, notes } = describe(p, addonPath(p))
    const seconds = ((Date.now() - started) / 1000).toFixed(0)
    rows.push({ platform: p.platform, status: 'built', how: `${step.how}, ${seconds} s`, size, notes })
  } catch (err) {
    failed = true
    fs.rmSync(addonPath(p), { force: true })
    rows.push({ platform: p.platform, status: 'FAILED', how: step.how, size: '', notes: err.message })
  }
}

console.log('\nplatform          status     size     how / what it needs / why not')
for (const r of rows) {
  console.log(`${r.platform.padEnd(18)}${r.status.padEnd(11)}${r.size.padEnd(9)}${[r.how, r.notes].filter(Boolean).join('; ')}`)
}
process.exit(failed ? 1 : 0)
