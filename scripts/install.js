'use strict'

// `npm install` hook: builds the native addon from source with @napi-rs/cli unless a binary
// for this platform is already present. A missing Rust toolchain gets one clear message.

const { spawnSync } = require('node:child_process')
const fs = require('node:fs')
const path = require('node:path')

const root = path.join(__dirname, '..')

function hasLocalBinary() {
  return fs.readdirSync(root).some((f) => /^leakwatch\..+\.node$/.test(f)) &&
    fs.existsSync(path.join(root, 'binding.js'))
}

if (hasLocalBinary() && !process.env.LEAKWATCH_FORCE_BUILD) process.exit(0)

const cargo = spawnSync('cargo', ['--version'], { encoding: 'utf8' })
if (cargo.error || cargo.status !== 0) {
  process.stderr.write(
    '\nleakwatch: building the native addon needs the Rust toolchain, and `cargo` was not ' +
      'found on PATH.\nInstall Rust (https://rustup.rs, or your distribution\'s rust/cargo ' +
      'packages), then run `npm rebuild leakwatch`.\n\n')
  process.exit(1)
}

const cli = require.resolve('@napi-rs/cli/package.json', { paths: [root] })
const bin = path.join(path.dirname(cli), require(cli).bin.napi)
const result = spawnSync(process.execPath, [bin, 'build', '--platform', '--release',
  '--js', 'binding.js', '--dts', 'binding.d.ts'], { cwd: root, stdio: 'inherit' })
if (result.status !== 0) {
  process.stderr.write('\nleakwatch: the native build failed (see the cargo output above).\n')
  process.exit(result.status || 1)
}
