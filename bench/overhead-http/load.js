'use strict'

// The load generator of bench/overhead-http: autocannon against one server, a warm-up run
// whose figures are dropped, then the measured run. Prints one JSON line.
//
//   node load.js PORT --duration 10 --warmup 3 --connections 10

const autocannon = require('autocannon')
const { option } = require('../common')

const argv = process.argv.slice(2)
const port = Number(argv[0])
const duration = Number(option(argv, '--duration', 10))
const warmup = Number(option(argv, '--warmup', 3))
const connections = Number(option(argv, '--connections', 10))

const body = JSON.stringify({
  customer: 'c-1042',
  lines: Array.from({ length: 8 }, (_, i) => ({ sku: `sku-${(i * 113) % 1000}`, qty: 1 + (i % 4) })),
})
// autocannon's own percentiles are whole milliseconds (p50 reads 0 ms here); each response's
// time (fractional ms, from process.hrtime) is kept instead and the percentiles taken from it.
/** @param {number} seconds @param {number[] | null} times */
function request(seconds, times) {
  const instance = autocannon({
    url: `http://127.0.0.1:${port}/orders`,
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body,
    connections,
    duration: seconds,
  })
  if (times) instance.on('response', (client, status, bytes, ms) => times.push(ms))
  return instance
}

/** @param {number[]} sorted @param {number} q */
const quantile = (sorted, q) => sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))]

const mark = () => fetch(`http://127.0.0.1:${port}/mark`, { method: 'POST' }).then((res) => res.json())

async function main() {
  if (warmup > 0) await request(warmup, null)
  await mark()
  const times = []
  const r = await request(duration, times)
  await mark()
  times.sort((a, b) => a - b)
  const round = (ms) => Math.round(ms * 1000) / 1000
  console.log(JSON.stringify({
    requestsPerSecond: r.requests.average,
    p50Ms: round(quantile(times, 0.5)),
    p99Ms: round(quantile(times, 0.99)),
    errors: r.errors + r.non2xx,
    timeouts: r.timeouts,
  }))
}

main().catch((err) => {
  console.error(err)
  process.exit(1)
})
