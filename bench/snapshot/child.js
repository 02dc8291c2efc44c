'use strict'

// One measurement in a fresh process: build a heap, collect garbage, then dump it once with
// the chosen writer, measuring the pause and the peak RSS (Linux: VmHWM, reset just before
// the dump through /proc/self/clear_refs). Prints one JSON line.
//
//   node bench/snapshot/child.js --kind server --mb 50 --writer leakwatch|node --dir DIR [--room tight|ample]
//
// `--room tight` (the default) sets memoryLimitBytes to RSS + 100 × the heap in use: more than
// any dump measured needs, less than the guard's worst case, so the guard takes its census
// and estimates as it does in a container. `ample` sets no limit: on a machine with room for
// the worst case (160 × the heap) the guard skips the census.

const fs = require('node:fs')
const path = require('node:path')
const v8 = require('node:v8')
const { option } = require('../common')
const leakwatch = require('../..')
const { build } = require('./heaps')

const argv = process.argv.slice(2)
const kind = option(argv, '--kind', 'server')
const mb = Number(option(argv, '--mb', '50'))
const writer = option(argv, '--writer', 'leakwatch')
// Without --dir, a temporary directory of its own, removed when the process ends.
const givenDir = option(argv, '--dir', null)
const dir = givenDir ?? fs.mkdtempSync(path.join(require('node:os').tmpdir(), 'lw-snap-'))
if (givenDir === null) process.on('exit', () => fs.rmSync(dir, { recursive: true, force: true }))
const room = option(argv, '--room', 'tight')

function statusKb(field) {
  const line = fs.readFileSync('/proc/self/status', 'utf8').split('\n').find((l) => l.startsWith(field))
  return Number(line.split(/\s+/)[1]) * 1024
}

async function main() {
  build(kind, mb * 1024 * 1024)
  leakwatch.gc()
  const heap = v8.getHeapStatistics()
  const rssBefore = statusKb('VmRSS:')
  fs.writeFileSync('/proc/self/clear_refs', '5')
  const started = process.hrtime.bigint()
  let file
  let estimate = null
  if (writer === 'node') {
    file = v8.writeHeapSnapshot(path.join(dir, `node-${kind}-${mb}.heapsnapshot`))
  } else {
    // No pause budget: this measures what V8 costs, on heaps the default budget may skip.
    const memoryLimitBytes = room === 'tight' ? rssBefore + 100 * heap.used_heap_size : null
    const watcher = leakwatch.start({ attribution: false, snapshot: { dir, onLeak: false, maxPauseMs: null, memoryLimitBytes } })
    const info = await leakwatch.writeSnapshot(path.join(dir, `leakwatch-${kind}-${mb}.heapsnapshot`))
    watcher.stop()
    file = info.path
    estimate = info.estimate
  }
  const pauseMs = Number(process.hrtime.bigint() - started) / 1e6
  const peak = statusKb('VmHWM:')
  const bytes = fs.statSync(file).size
  fs.rmSync(file)
  process.stdout.write(`${JSON.stringify({
    kind, mb, writer, heapUsed: heap.used_heap_size, rssBefore, peakRss: peak,
    extraRss: peak - rssBefore, pauseMs, fileBytes: bytes, estimate,
    live: globalThis.heldForSnapshot.length,
  })}\n`)
}

main().catch((err) => {
  console.error(err)
  process.exit(1)
})
