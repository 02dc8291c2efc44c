'use strict'

// Cost of allocation-site attribution (V8's sampling heap profiler through an in-process
// inspector session, 512 KiB interval): the allocation-heavy job of bench/gc-overhead run
// without monitoring (leakwatch loaded, not started), with leakwatch's attribution off, and
// with the profiler running throughout (`attribution: { when: 'always' }`), interleaved, one
// process at a time. Prints median wall
// and CPU time per mode and the ratios to the baseline.
//
//   node bench/attribution/run.js [--runs 9] [--chunks 400]

const { spawnSync } = require('node:child_process')
const path = require('node:path')
const { option, median, markdownTable } = require('../common')

const argv = process.argv.slice(2)
const value = (name, fallback) => Number(option(argv, name, fallback))
const runs = value('--runs', 9)
const chunks = value('--chunks', 400)
const job = path.join(__dirname, '..', 'gc-overhead', 'job.js')
const MODES = ['baseline', 'leakwatch', 'leakwatch-attribution']

const results = Object.fromEntries(MODES.map((m) => [m, []]))
for (let r = 0; r < runs; r++) {
  // Rotate the order so no mode always runs first after a pause.
  for (let k = 0; k < MODES.length; k++) {
    const mode = MODES[(r + k) % MODES.length]
    const out = spawnSync(process.execPath, [job, mode, String(chunks)], { encoding: 'utf8' })
    if (out.status !== 0) throw new Error(`${mode}: exit ${out.status}\n${out.stderr}`)
    results[mode].push(JSON.parse(out.stdout.trim().split('\n').pop()))
  }
}

const base = results.baseline
const baseWall = median(base.map((x) => x.ms))
const baseCpu = median(base.map((x) => x.cpuMs))
const rows = MODES.map((mode) => {
  const wall = median(results[mode].map((x) => x.ms))
  const cpu = median(results[mode].map((x) => x.cpuMs))
  const spread = Math.max(...results[mode].map((x) => x.ms)) / Math.min(...results[mode].map((x) => x.ms)) - 1
  return [mode, `${wall.toFixed(0)} ms`, (wall / baseWall).toFixed(3), `${cpu.toFixed(0)} ms`, (cpu / baseCpu).toFixed(3), `${(spread * 100).toFixed(1)} %`]
})
const header = ['mode', 'wall (median)', 'wall ratio', 'CPU (median)', 'CPU ratio', 'wall spread (max/min - 1)']
console.log(markdownTable(header, rows))
console.log(`\n${runs} interleaved runs per mode, ${chunks} chunks of 20 000 allocations; node ${process.version}`)
