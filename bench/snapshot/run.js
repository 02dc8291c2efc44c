'use strict'

// Cost of a heap snapshot written by leakwatch against `v8.writeHeapSnapshot()` on the same
// heaps (same kind, same size, each dump in a fresh process, writers interleaved): pause and
// extra peak RSS, with the ratios; and the guard's estimate (a process's first dump) against
// the measured extra RSS.
//
//   node bench/snapshot/run.js [--runs 2] [--sizes 50,200] [--kinds server,objects] [--room tight|ample]
//
// `--room` is passed to child.js: `tight` (default) makes the guard take its census, as in a
// container; `ample` leaves it out, as on a machine with room for the worst case.

const { spawnSync } = require('node:child_process')
const fs = require('node:fs')
const os = require('node:os')
const path = require('node:path')
const { option, median, markdownTable } = require('../common')

const argv = process.argv.slice(2)
const runs = Number(option(argv, '--runs', '2'))
const sizes = option(argv, '--sizes', '50,200').split(',').map(Number)
const kinds = option(argv, '--kinds', 'server,objects').split(',')
const room = option(argv, '--room', 'tight')
const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'lw-bench-snap-'))
const WRITERS = ['node', 'leakwatch']
const MB = 1024 * 1024

function measure(kind, mb, writer) {
  const out = spawnSync(process.execPath, [path.join(__dirname, 'child.js'), '--kind', kind, '--mb', String(mb), '--writer', writer, '--dir', dir, '--room', room], { encoding: 'utf8' })
  if (out.status !== 0) throw new Error(`${kind} ${mb} ${writer}: exit ${out.status}\n${out.stderr}`)
  return JSON.parse(out.stdout.trim().split('\n').pop())
}

const rows = []
for (const kind of kinds) {
  for (const mb of sizes) {
    const results = { node: [], leakwatch: [] }
    for (let r = 0; r < runs; r++) {
      const order = r % 2 ? [...WRITERS].reverse() : WRITERS
      for (const writer of order) results[writer].push(measure(kind, mb, writer))
    }
    const med = (writer, key) => median(results[writer].map((x) => x[key]))
    const heap = med('leakwatch', 'heapUsed')
    const [pn, pl] = [med('node', 'pauseMs'), med('leakwatch', 'pauseMs')]
    const [rn, rl] = [med('node', 'extraRss'), med('leakwatch', 'extraRss')]
    const est = median(results.leakwatch.map((x) => x.estimate.memoryBytes))
    rows.push([
      kind, `${(heap / MB).toFixed(0)} MB`,
      `${(pn / 1000).toFixed(2)} s`, `${(pl / 1000).toFixed(2)} s`, (pl / pn).toFixed(3),
      `${(rn / MB).toFixed(0)} MB`, `${(rl / MB).toFixed(0)} MB`, (rl / rn).toFixed(3),
      `${(est / MB).toFixed(0)} MB`, (est / rl).toFixed(2),
      `${(med('leakwatch', 'fileBytes') / MB).toFixed(0)} MB`,
    ])
  }
}
fs.rmSync(dir, { recursive: true, force: true })
const header = ['heap', 'used', 'pause node', 'pause leakwatch', 'pause ratio', 'extra RSS node',
  'extra RSS leakwatch', 'RSS ratio', 'guard estimate', 'estimate / measured', 'file']
console.log(markdownTable(header, rows))
console.log(`\nmedians of ${runs} runs per writer, each dump in a fresh process, writers interleaved; ` +
  `extra RSS = peak RSS during the dump (VmHWM) - RSS before it; room ${room}; node ${process.version}`)
