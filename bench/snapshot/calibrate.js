'use strict'

// Calibration of the guard (src/snapshot/guard.rs): extra peak RSS and file size of an
// isolate's first leakwatch dump, across heap shapes and sizes, each in a fresh process, and
// the guard's estimate ÷ what was measured (it must never be below 1).
//
//   node bench/snapshot/calibrate.js [--sizes 10,50,150] [--kinds objects,server,maps,closures,strings,arrays,app]
//
// `app` is a real application's heap (the TypeScript compiler type-checking its lib files;
// the size picks how many).

const { spawnSync } = require('node:child_process')
const fs = require('node:fs')
const os = require('node:os')
const path = require('node:path')
const { option, markdownTable } = require('../common')
const { KINDS } = require('./heaps')

const argv = process.argv.slice(2)
const sizes = option(argv, '--sizes', '10,50,150').split(',').map(Number)
const kinds = option(argv, '--kinds', Object.keys(KINDS).join(',')).split(',')
const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'lw-calibrate-'))
const MB = 1024 * 1024

const rows = []
let worst = { low: Infinity, high: 0, fileLow: Infinity, fileHigh: 0 }
for (const kind of kinds) {
  for (const mb of sizes) {
    const out = spawnSync(process.execPath, [path.join(__dirname, 'child.js'), '--kind', kind, '--mb', String(mb), '--writer', 'leakwatch', '--dir', dir], { encoding: 'utf8' })
    if (out.status !== 0) throw new Error(`${kind} ${mb}: exit ${out.status}\n${out.stderr}`)
    const m = JSON.parse(out.stdout.trim().split('\n').pop())
    const memory = m.estimate.memoryBytes / m.extraRss
    const file = m.estimate.fileBytes / m.fileBytes
    worst = { low: Math.min(worst.low, memory), high: Math.max(worst.high, memory), fileLow: Math.min(worst.fileLow, file), fileHigh: Math.max(worst.fileHigh, file) }
    rows.push([kind, `${(m.heapUsed / MB).toFixed(0)} MB`, `${(m.extraRss / MB).toFixed(0)} MB`, (m.extraRss / m.heapUsed).toFixed(2),
      `${(m.estimate.memoryBytes / MB).toFixed(0)} MB`, memory.toFixed(2),
      `${(m.fileBytes / MB).toFixed(0)} MB`, `${(m.estimate.fileBytes / MB).toFixed(0)} MB`, file.toFixed(2), `${(m.pauseMs / 1000).toFixed(2)} s`])
  }
}
fs.rmSync(dir, { recursive: true, force: true })
console.log(markdownTable(['heap', 'used', 'extra RSS', 'RSS / heap', 'estimate', 'estimate ÷ measured', 'file', 'file estimate', 'file est. ÷ measured', 'pause'], rows))
console.log(`\nmemory estimate ÷ measured: ${worst.low.toFixed(2)} – ${worst.high.toFixed(2)}; file: ${worst.fileLow.toFixed(2)} – ${worst.fileHigh.toFixed(2)}; node ${process.version}`)
if (worst.low < 1 || worst.fileLow < 1) {
  console.log('AN ESTIMATE WAS BELOW WHAT THE DUMP TOOK')
  process.exitCode = 1
}
