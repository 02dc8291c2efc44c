'use strict'

// The per-platform packages (npm/<platform>/, napi-rs's layout) and what the release scripts
// share about them: which Rust target each holds, the file the loader (binding.js) looks for,
// and how an addon is inspected (its ELF machine, the newest glibc symbol version it needs).
// Used by build-platforms.js, test-platforms.js, pack-release.js and __test__/package.test.js.

const fs = require('node:fs')
const path = require('node:path')
const { spawnSync } = require('node:child_process')

const root = path.join(__dirname, '..')
const pkg = require('../package.json')

/**
 * Every platform package the loader knows and the release publishes. `glibc` is the oldest
 * glibc a Linux gnu build targets: 2.28, what the official Node.js 22 Linux binaries need.
 * `runner` is the CI runner that builds a target this machine cannot (.github/workflows/release.yml).
 */
const PLATFORMS = [
  { platform: 'linux-x64-gnu', target: 'x86_64-unknown-linux-gnu', machine: 'x86-64', glibc: '2.28' },
  { platform: 'linux-arm64-gnu', target: 'aarch64-unknown-linux-gnu', machine: 'aarch64', glibc: '2.28' },
  { platform: 'linux-x64-musl', target: 'x86_64-unknown-linux-musl', machine: 'x86-64' },
  { platform: 'linux-arm64-musl', target: 'aarch64-unknown-linux-musl', machine: 'aarch64' },
  { platform: 'darwin-x64', target: 'x86_64-apple-darwin', runner: 'macos-13' },
  { platform: 'darwin-arm64', target: 'aarch64-apple-darwin', runner: 'macos-14' },
  { platform: 'win32-x64-msvc', target: 'x86_64-pc-windows-msvc', runner: 'windows-latest' },
]

const packageDir = (p) => path.join(root, 'npm', p.platform)
const packageName = (p) => `${pkg.name}-${p.platform}`
const addonFile = (p) => `${pkg.napi.binaryName}.${p.platform}.node`
const addonPath = (p) => path.join(packageDir(p), addonFile(p))

/** This process's platform as the package names spell it (`linux-x64-gnu`, `darwin-arm64`). */
function hostPlatform() {
  const { platform, arch } = process
  if (platform === 'linux') {
    const glibc = process.report && process.report.getReport().header.glibcVersionRuntime
    return `linux-${arch}-${glibc ? 'gnu' : 'musl'}`
  }
  return platform === 'win32' ? `win32-${arch}-msvc` : `${platform}-${arch}`
}

/** The platform's package.json, checked against the root package (name, version, main). */
function platformManifest(p) {
  const manifest = JSON.parse(fs.readFileSync(path.join(packageDir(p), 'package.json'), 'utf8'))
  const problems = []
  if (manifest.name !== packageName(p)) problems.push(`name ${manifest.name}, expected ${packageName(p)}`)
  if (manifest.version !== pkg.version) problems.push(`version ${manifest.version}, expected ${pkg.version} (run \`npx napi version\`)`)
  if (manifest.main !== addonFile(p)) problems.push(`main ${manifest.main}, expected ${addonFile(p)}`)
  if (problems.length) throw new Error(`npm/${p.platform}/package.json: ${problems.join('; ')}`)
  return manifest
}

/** `optionalDependencies` of the published leakwatch: every platform package, same version. */
function optionalDependencies() {
  return Object.fromEntries(PLATFORMS.map((p) => [packageName(p), pkg.version]))
}

const ELF_MACHINES = { 0x3e: 'x86-64', 0xb7: 'aarch64' }

/** The machine an ELF shared object is built for (`x86-64`, `aarch64`), or null. */
function elfMachine(file) {
  const fd = fs.openSync(file, 'r')
  try {
    const header = Buffer.alloc(20)
    fs.readSync(fd, header, 0, 20, 0)
    if (header.readUInt32BE(0) !== 0x7f454c46) return null
    return ELF_MACHINES[header.readUInt16LE(18)] || `machine 0x${header.readUInt16LE(18).toString(16)}`
  } finally {
    fs.closeSync(fd)
  }
}

/**
 * What an ELF addon needs from the C library, read with `objdump -T`: the glibc symbol
 * versions (newest last) and the shared libraries it links (`objdump -p`, NEEDED).
 */
function elfNeeds(file) {
  const symbols = spawnSync('objdump', ['-T', file], { encoding: 'utf8' })
  const headers = spawnSync('objdump', ['-p', file], { encoding: 'utf8' })
  if (symbols.status !== 0 || headers.status !== 0) return null
  const versions = [...new Set(symbols.stdout.match(/GLIBC_[\d.]+/g) || [])]
    .map((v) => v.slice('GLIBC_'.length))
    .sort((a, b) => compareVersions(a, b))
  const needed = [...headers.stdout.matchAll(/NEEDED\s+(\S+)/g)].map((m) => m[1])
  return { glibc: versions, needed }
}

function compareVersions(a, b) {
  const x = a.split('.').map(Number)
  const y = b.split('.').map(Number)
  for (let i = 0; i < Math.max(x.length, y.length); i++) {
    if ((x[i] || 0) !== (y[i] || 0)) return (x[i] || 0) - (y[i] || 0)
  }
  return 0
}

module.exports = {
  root, pkg, PLATFORMS, hostPlatform, packageDir, packageName, addonFile, addonPath, platformManifest,
  optionalDependencies, elfMachine, elfNeeds, compareVersions,
}
