// @ts-check
'use strict'

// Byte sizes and their renderings, defined once. Each rendering is the one a particular output
// has always used: SI units in the command's tables and progress line, whole mebibytes
// (written "MB") in snapshot-skipped messages, memwatch's 1024-based `size` strings in HeapDiff.

const KiB = 1024
const MiB = 1024 * KiB
const GiB = 1024 * MiB

/** SI units with 2–3 significant digits: `950 B`, `1.25 MB`, `-12.5 kB` (CLI and HTML tables). */
function formatBytes(/** @type {number} */ n) {
  const sign = n < 0 ? '-' : ''
  let v = Math.abs(n)
  const units = ['B', 'kB', 'MB', 'GB', 'TB']
  let i = 0
  while (v >= 1000 && i < units.length - 1) {
    v /= 1000
    i++
  }
  return `${sign}${i === 0 ? v : v.toFixed(v < 10 ? 2 : 1)} ${units[i]}`
}

/** Whole SI megabytes, the number only: `12` (the command's progress line). */
const wholeMegabytes = (/** @type {number} */ n) => (n / 1e6).toFixed(0)

/** Whole mebibytes: `512 MB` (snapshot-skipped messages). */
const wholeMiB = (/** @type {number} */ n) => `${(n / MiB).toFixed(0)} MB`

/** memwatch's HeapDiff sizes: `512 bytes`, `1.50 kb`, `-2.00 mb`, `1.00 gb`. */
function memwatchSize(/** @type {number} */ bytes) {
  const sign = bytes < 0 ? '-' : ''
  let n = Math.abs(bytes)
  if (n < 1024) return `${sign}${n} bytes`
  for (const unit of ['kb', 'mb']) {
    n /= 1024
    if (n < 1024) return `${sign}${n.toFixed(2)} ${unit}`
  }
  return `${sign}${(n / 1024).toFixed(2)} gb`
}

/** Exact binary units for documentation: `8 MiB`, `512 KiB`, `1 GiB`; else the number. */
function binarySize(/** @type {number} */ n) {
  for (const [unit, size] of /** @type {const} */ ([['GiB', GiB], ['MiB', MiB], ['KiB', KiB]])) {
    if (n >= size && n % size === 0) return `${n / size} ${unit}`
  }
  return String(n)
}

module.exports = { KiB, MiB, GiB, formatBytes, wholeMegabytes, wholeMiB, memwatchSize, binarySize }
