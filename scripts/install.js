'use strict'

// `npm install` hook. Nothing to do when this platform's addon is already there: a prebuilt
// per-platform package (`leakwatch-<platform>` in optionalDependencies), or a `.node` file
// built earlier. Otherwise the addon is built from source with cargo:
//
// - from a published tarball, which ships the generated loader (binding.js): `cargo build`,
//   then the library is copied next to the loader under the name it looks for;
// - from a git checkout (no binding.js yet): `napi build`, which writes both.
//
// A missing Rust toolchain gets one message saying what to install, not cargo's output.

const { spawnSync } = require('node:child_process')
const fs = require('node:fs')
const path = require('node:path')

const root = path.join(__dirname, '..')
const pkg = require('../package.json')

function fail(message, status = 1) {
  process.stderr.write(`\nleakwatch: ${message}\n\n`)
  process.exit(status)
}

function isMusl() {
  if (process.platform !== 'linux') return false
  const header = process.report && process.report.getReport().header
  return !(header && header.glibcVersionRuntime)
}

/** The platform part of the addon's file and package names, as napi-rs spells it. */
function platformSuffix() {
  const { platform, arch } = process
  if (platform === 'linux') {
    if (arch === 'arm') return `linux-arm-${isMusl() ? 'musleabihf' : 'gnueabihf'}`
    return `linux-${arch}-${isMusl() ? 'musl' : 'gnu'}`
  }
  if (platform === 'win32') return `win32-${arch}-msvc`
  return `${platform}-${arch}`
}

function prebuiltInstalled(suffix) {
  try {
    require.resolve(`${pkg.name}-${suffix}`, { paths: [root] })
    return true
  } catch {
    return false
  }
}

const suffix = platformSuffix()
const addon = path.join(root, `${pkg.napi.binaryName}.${suffix}.node`)
const loader = path.join(root, 'binding.js')

if (!process.env.LEAKWATCH_FORCE_BUILD &&
    ((fs.existsSync(addon) && fs.existsSync(loader)) || prebuiltInstalled(suffix))) {
  process.exit(0)
}

const cargoVersion = spawnSync('cargo', ['--version'], { encoding: 'utf8' })
if (cargoVersion.error || cargoVersion.status !== 0) {
  fail(`no prebuilt binary for ${suffix} (Node.js ${process.version}), and building one from ` +
    'source needs the Rust toolchain: `cargo` was not found on PATH.\n' +
    'Install Rust 1.88 or newer (https://rustup.rs, or your distribution\'s rust and cargo ' +
    'packages) and run the install again.')
}

if (!fs.existsSync(loader)) buildCheckout()
else buildFromTarball()

// A git checkout: the napi-rs CLI (a devDependency) generates the loader and its types.
function buildCheckout() {
  let cli
  try {
    cli = require.resolve('@napi-rs/cli/package.json', { paths: [root] })
  } catch {
    fail('binding.js is missing and @napi-rs/cli is not installed; run `npm install` in the ' +
      'leakwatch checkout (it installs the devDependencies) or `npm run build`.')
  }
  const bin = path.join(path.dirname(cli), require(cli).bin.napi)
  const result = spawnSync(process.execPath, [bin, 'build', '--platform', '--release',
    '--js', 'binding.js', '--dts', 'binding.d.ts'], { cwd: root, stdio: 'inherit' })
  if (result.status !== 0) fail('the native build failed (see the cargo output above).', result.status || 1)
}

// A tarball: cargo builds the library, which is copied to the name binding.js loads. The
// build directory is removed afterwards (it is ~100 MB an app does not need at run time)
// unless CARGO_TARGET_DIR points elsewhere.
function buildFromTarball() {
  const ownTarget = !process.env.CARGO_TARGET_DIR
  const result = spawnSync('cargo', ['build', '--release', '--locked',
    '--message-format=json-render-diagnostics'], {
    cwd: root,
    encoding: 'utf8',
    maxBuffer: 256 * 1024 * 1024,
    stdio: ['ignore', 'pipe', 'inherit'],
  })
  if (result.status !== 0) fail('the native build failed (see the cargo output above).', result.status || 1)
  let library = null
  for (const line of result.stdout.split('\n')) {
    if (!line.startsWith('{')) continue
    const message = JSON.parse(line)
    if (message.reason === 'compiler-artifact' && message.target.kind.includes('cdylib')) {
      library = message.filenames.find((f) => /\.(so|dylib|dll)$/.test(f))
    }
  }
  if (!library) fail('cargo finished without producing the addon library.')
  const temporary = `${addon}.${process.pid}.tmp`
  fs.copyFileSync(library, temporary)
  fs.renameSync(temporary, addon)
  if (ownTarget) fs.rmSync(path.join(root, 'target'), { recursive: true, force: true })
}
