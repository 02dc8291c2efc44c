'use strict'

// Calibration of the guard (src/snapshot/guard.rs): extra peak RSS and file size of a
// leakwatch dump per byte of JS heap in use, across object densities and heap sizes, each in
// a fresh process, and the prior estimate's error on each.
//
//   node bench/snapshot/calibrate.js [--sizes 10,50,150] [--kinds objects,server,maps,closures,strings,arrays]

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
let worstMemory = 0
let worstFile = 0
for (const kind of kinds) {
  for (const mb of sizes) {
    const out = spawnSync(process.execPath, [path.join(__dirname, 'child.js'), '--kind', kind, '--mb', String(mb), '--writer', 'leakwatch', '--dir', dir], { encoding: 'utf8' })
    if (out.status !== 0) throw new Error(`${kind} ${mb}: exit ${out.status}\n${out.stderr}`)
    const m = JSON.parse(out.stdout.trim().split('\n').pop())
    const memRatio = m.extraRss / m.heapUsed
    const fileRatio = m.fileBytes / m.heapUsed
    worstMemory = Math.max(worstMemory, memRatio)
    worstFile = Math.max(worstFile, fileRatio)
    rows.push([kind, `${(m.heapUsed / MB).toFixed(0)} MB`, `${(m.extraRss / MB).toFixed(0)} MB`, memRatio.toFixed(2),
      `${(m.fileBytes / MB).toFixed(0)} MB`, fileRatio.toFixed(2), `${(m.estimate.memoryBytes / MB).toFixed(0)} MB`,
      `${((m.estimate.memoryBytes / m.extraRss - 1) * 100).toFixed(0)} %`, `${(m.pauseMs / 1000).toFixed(2)} s`])
  }
}
fs.rmSync(dir, { recursive: true, force: true })
console.log(markdownTable(['heap', 'used', 'extra RSS', 'RSS / heap', 'file', 'file / heap', 'prior estimate', 'estimate error', 'pause'], rows))
console.log(`\nworst extra RSS per heap byte ${worstMemory.toFixed(2)}, worst file per heap byte ${worstFile.toFixed(2)}; node ${process.version}`)
