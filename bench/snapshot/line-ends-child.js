'use strict'

// One measurement of bench/snapshot/line-ends.js in a fresh process, on whichever Node runs
// it. Prints one JSON line.
//
//   --mode dump  --functions N --dir DIR   a heap holding an N-function single-file script,
//                dumped once with leakwatch.writeSnapshot() (LEAKWATCH_LINE_ENDS=on|off
//                decides the line-ends step; maxPauseMs bounds a quadratic dump)
//   --mode step  --functions N --dir DIR   the line-ends step alone: first and second call,
//                heap it leaves held, and a hot loop's throughput before and after it
//   --mode control  as `step` without the step (the hot loop's noise)

const fs = require('node:fs')
const path = require('node:path')
const v8 = require('node:v8')
const { option } = require('../common')
const leakwatch = require('../..')
const { prepareLineEnds } = require('../../lib/line-ends')
const { writeBigScript } = require('../../__test__/fixtures/big-script')

const argv = process.argv.slice(2)
const mode = option(argv, '--mode', 'dump')
const functions = Number(option(argv, '--functions', '40000'))
const dir = option(argv, '--dir', '.')
const budgetMs = Number(option(argv, '--budget-ms', '120000'))

const script = writeBigScript(dir, functions)
const scriptBytes = fs.statSync(script).size
globalThis.handlers = require(script)
fs.rmSync(script)

function hotLoop(iterations) {
  let sum = 0
  const point = { x: 1, y: 2 }
  for (let i = 0; i < iterations; i++) {
    point.x = i & 7
    sum += point.x * point.y + (i % 3)
  }
  return sum
}

/** Iterations per ms of the hot loop: the median of five runs, after a warm-up. */
function throughput() {
  const runs = []
  for (let r = 0; r < 8; r++) {
    const t = process.hrtime.bigint()
    hotLoop(2e7)
    runs.push(2e7 / (Number(process.hrtime.bigint() - t) / 1e6))
  }
  return runs.slice(3).sort((a, b) => a - b)[2]
}

async function main() {
  leakwatch.gc()
  const heapUsed = v8.getHeapStatistics().used_heap_size
  if (mode === 'dump') {
    const watcher = leakwatch.start({ attribution: false, snapshot: { dir, onLeak: false, maxPauseMs: budgetMs } })
    const started = process.hrtime.bigint()
    let out
    try {
      const info = await leakwatch.writeSnapshot(path.join(dir, `line-ends-${process.pid}.heapsnapshot`))
      out = { written: true, durationMs: info.durationMs, bytes: info.bytes }
      fs.rmSync(info.path)
    } catch (err) {
      if (err.code !== 'ERR_LEAKWATCH_SNAPSHOT_SKIPPED') throw err
      out = { written: false, aborted: !!err.aborted, elapsedMs: err.elapsedMs, reason: err.reason }
    }
    const pauseMs = Number(process.hrtime.bigint() - started) / 1e6
    watcher.stop()
    console.log(JSON.stringify({ mode, functions, scriptBytes, heapUsed, pauseMs, budgetMs, ...out }))
    return
  }
  const before = throughput()
  let first = 0
  let second = 0
  if (mode === 'step') {
    const a = prepareLineEnds({ force: true })
    const b = prepareLineEnds({ force: true })
    if (!a.ran || !b.ran) throw a.error || b.error
    first = a.durationMs
    second = b.durationMs
  }
  leakwatch.gc()
  const held = v8.getHeapStatistics().used_heap_size - heapUsed
  const after = throughput()
  console.log(JSON.stringify({ mode, functions, scriptBytes, heapUsed, firstMs: first, secondMs: second, heldBytes: held, throughputRatio: after / before }))
}

main().catch((err) => {
  console.error(err)
  process.exit(1)
})
