'use strict'

// The soak: one process for `--minutes` (default 10) under everything leakwatch does at once —
// thousands of GCs a minute, watchers stopped and started, worker threads with their own
// watchers coming and going (some terminated mid-work), guarded snapshots with maxFiles,
// analyses and diffs of them, and metric scrapes — sampling the process's RSS and leakwatch's
// own Rust allocations, then saying whether both stay bounded.
//
//   npm run bench:soak [-- --minutes 10] [--sample-seconds 30] [--workers leakwatch|bare|none]
//
// --workers bare runs the same worker threads without leakwatch in them, --workers none runs
// none: controls that tell Node's own share of RSS growth from leakwatch's.
//
// leakwatch's allocations are counted by a counting global allocator that only a build with
// the `alloc-count` cargo feature has: this script builds that copy of the addon into
// target/soak (its own target directory, so the package's own build is untouched) and the
// soak process loads it in place of the package's binding.

const { spawnSync, spawn } = require('node:child_process')
const fs = require('node:fs')
const path = require('node:path')
const { option } = require('../common')

const root = path.join(__dirname, '..', '..')
const argv = process.argv.slice(2)
const minutes = Number(option(argv, '--minutes', 10))
const sampleSeconds = Number(option(argv, '--sample-seconds', Math.max(5, Math.round((minutes * 60) / 20))))
if (!(minutes > 0) || !(sampleSeconds > 0)) {
  console.error('usage: npm run bench:soak [-- --minutes N] [--sample-seconds S]')
  process.exit(2)
}

const targetDir = path.join(root, 'target', 'soak')
console.error('building the addon with the alloc-count feature (target/soak)…')
const build = spawnSync('cargo', ['build', '--release', '--quiet', '--features', 'alloc-count', '--target-dir', targetDir],
  { cwd: root, stdio: 'inherit' })
if (build.status !== 0) process.exit(build.status || 1)
const library = { linux: 'libleakwatch.so', darwin: 'libleakwatch.dylib' }[process.platform]
if (!library) {
  console.error(`bench:soak: no addon build for ${process.platform}`)
  process.exit(1)
}
const binding = path.join(targetDir, 'leakwatch-alloc-count.node')
fs.copyFileSync(path.join(targetDir, 'release', library), binding)

const workers = option(argv, '--workers', 'leakwatch')
if (!['leakwatch', 'bare', 'none'].includes(workers)) {
  console.error('--workers: leakwatch (default), bare (the same workers without leakwatch) or none')
  process.exit(2)
}
const child = spawn(process.execPath, ['--expose-gc', path.join(__dirname, 'soak.js'),
  '--minutes', String(minutes), '--sample-seconds', String(sampleSeconds), '--workers', workers], {
  cwd: root,
  env: { ...process.env, LEAKWATCH_SOAK_BINDING: binding },
  stdio: 'inherit',
})
child.on('exit', (code, signal) => process.exit(signal ? 1 : code))
