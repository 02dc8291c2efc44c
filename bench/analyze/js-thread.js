'use strict'

// What an in-process `analyze()` costs the JS thread it never runs on: the JS thread
// allocates 8 KiB Buffers (each one a C `malloc`) in a loop that yields to the event loop
// every 2,000, and times each allocation. Each round measures a window without analysis
// (as long as the last analysis took, 1 s the first time) and then one `analyze()` of FILE,
// in one process. Prints a table: allocations, how many took over 1 ms and over 5 ms, the
// longest; medians over the rounds.
//
//   node bench/analyze/js-thread.js FILE [--rounds 3] [--package DIR]
//
// --package: the leakwatch to load (default: this checkout). Prefix `taskset -c 0,1` to pin.

const path = require('node:path')
const os = require('node:os')
const { option, median, markdownTable } = require('../common')

const argv = process.argv.slice(2)
const file = argv.find((a, i) => !a.startsWith('--') && !(i > 0 && argv[i - 1].startsWith('--')))
if (!file) throw new Error('usage: js-thread.js FILE [--rounds 3] [--package DIR]')
const rounds = Number(option(argv, '--rounds', 3))
const leakwatch = require(path.resolve(option(argv, '--package', path.join(__dirname, '..', '..'))))

/** Times allocations until `done` settles; resolves with their latencies (ms). */
function allocateUntil(done) {
  const latencies = []
  let running = true
  const stop = () => { running = false }
  done.then(stop, stop)
  return new Promise((resolve) => {
    function chunk() {
      for (let i = 0; i < 2000; i++) {
        const t0 = process.hrtime.bigint()
        const b = Buffer.allocUnsafeSlow(8192)
        latencies.push(Number(process.hrtime.bigint() - t0) / 1e6)
        b[0] = 1
      }
      if (running) setImmediate(chunk)
      else resolve(latencies)
    }
    setImmediate(chunk)
  })
}

function summary(latencies, ms) {
  return {
    ms,
    allocs: latencies.length,
    over1: latencies.filter((x) => x > 1).length,
    over5: latencies.filter((x) => x > 5).length,
    max: latencies.reduce((a, b) => Math.max(a, b), 0),
  }
}

async function main() {
  const rows = { idle: [], analyze: [] }
  let window = 1000
  for (let r = 0; r < rounds; r++) {
    const idle = await allocateUntil(new Promise((resolve) => setTimeout(resolve, window)))
    rows.idle.push(summary(idle, window))
    const t0 = Date.now()
    const analysis = leakwatch.analyze(file)
    const during = await allocateUntil(analysis)
    await analysis
    window = Date.now() - t0
    rows.analyze.push(summary(during, window))
  }
  const line = (name, xs) => [
    name,
    median(xs.map((x) => x.ms)).toFixed(0),
    median(xs.map((x) => x.allocs)).toFixed(0),
    median(xs.map((x) => x.over1)).toFixed(0),
    median(xs.map((x) => x.over5)).toFixed(0),
    median(xs.map((x) => x.max)).toFixed(2),
  ]
  console.log(`${os.cpus().length} cores, ${os.cpus()[0].model.trim()}, Node.js ${process.version}, ` +
    `${path.basename(file)}, medians of ${rounds} rounds\n`)
  console.log(markdownTable(['JS thread', 'window ms', 'allocations', '> 1 ms', '> 5 ms', 'longest ms'], [
    line('alone', rows.idle),
    line('during analyze()', rows.analyze),
  ]))
}

main().catch((err) => {
  console.error(err)
  process.exitCode = 1
})
