'use strict'

// The registry mirror this project is developed against serves only the current platform's
// builds of per-platform packages, so `npm install` writes a lockfile without the other
// platforms' optional entries and `npm ci` then rejects it as out of sync. This adds the
// missing optional entries (version, os, cpu, as the public registry would record them) so
// the lockfile is complete for every platform. Run it after `npm install` changes the lock:
//
//   node scripts/complete-lockfile.js

const fs = require('node:fs')
const path = require('node:path')

const file = path.join(__dirname, '..', 'package-lock.json')
const lock = JSON.parse(fs.readFileSync(file, 'utf8'))

const OS = ['android', 'darwin', 'freebsd', 'linux', 'win32', 'openharmony']
const CPU = { x64: 'x64', arm64: 'arm64', arm: 'arm', ia32: 'ia32', ppc64: 'ppc64',
  riscv64: 'riscv64', s390x: 's390x', wasm32: 'wasm32', 'universal': null }

function platformOf(name) {
  const parts = name.split('/').pop().split('-')
  const osIndex = parts.findIndex((p) => OS.includes(p))
  if (parts.includes('wasm32')) return { cpu: ['wasm32'] }
  if (osIndex < 0) return null
  const os = parts[osIndex]
  const cpu = CPU[parts[osIndex + 1]]
  const entry = { os: [os] }
  if (cpu) entry.cpu = [cpu]
  const abi = parts[osIndex + 2]
  if (os === 'linux' && (abi === 'gnu' || abi === 'musl')) entry.libc = [abi === 'gnu' ? 'glibc' : 'musl']
  return entry
}

let added = 0
for (const [where, pkg] of Object.entries(lock.packages)) {
  for (const [dep, version] of Object.entries(pkg.optionalDependencies || {})) {
    const base = where ? `${where}/node_modules/${dep}` : `node_modules/${dep}`
    const hoisted = `node_modules/${dep}`
    if (lock.packages[base] || lock.packages[hoisted]) continue
    const platform = platformOf(dep)
    if (!platform) continue
    lock.packages[hoisted] = { version, ...platform, optional: true }
    added++
  }
}
const sorted = Object.fromEntries(Object.entries(lock.packages).sort(([a], [b]) => (a === '' ? -1 : b === '' ? 1 : a.localeCompare(b))))
lock.packages = sorted
fs.writeFileSync(file, JSON.stringify(lock, null, 2) + '\n')
console.log(`complete-lockfile: added ${added} optional platform entries`)
