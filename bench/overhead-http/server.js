'use strict'

// The service of bench/overhead-http: an Express app taking and returning JSON (an order
// priced from a catalogue), in one of four variants:
//
//   node server.js none | loaded | defaults | no-attribution | always
//
// none: leakwatch is not required; loaded: required, not started; defaults: start();
// no-attribution: start({ attribution: false }); always: start({ attribution: { when:
// 'always' } }), the sampling profiler from start() on (the defaults before it ran on growth
// only). Prints `{ "port": N }` once listening. `POST /mark` (sent by load.js after its
// warm-up and at the end) notes the process's CPU time and request count, so the CPU time
// per request of the measured part is known: it depends far less than throughput on what
// else the machine runs. On SIGTERM it prints one JSON line with that and what leakwatch saw
// (the share of its polls, every 250 ms, in which the sampling heap profiler ran; full and
// requested GCs) and exits.
//
// For the started variants each mark also notes what leakwatch itself spent, read without
// adding work to the measured part: the CPU time of its background thread (the kernel's
// per-thread schedstat, nanoseconds), the time inside its GC callbacks (its own
// `callbackCost`), and its confirmation GCs (`requestedGcs`, costed at this process's mean
// full-GC pause; V8's incremental marking steps of those GCs are not counted).

const express = require('express')

const variant = process.argv[2] || 'none'
const leakwatch = variant === 'none' ? null : require('../..')
const watcher = variant === 'defaults' ? leakwatch.start()
  : variant === 'no-attribution' ? leakwatch.start({ attribution: false })
    : variant === 'always' ? leakwatch.start({ attribution: { when: 'always' } })
      : null

const catalogue = new Map()
for (let i = 0; i < 1000; i++) {
  catalogue.set(`sku-${i}`, { sku: `sku-${i}`, name: `Item ${i}`, cents: 100 + ((i * 37) % 9900), taxRate: i % 3 === 0 ? 0.07 : 0.19 })
}

const fs = require('node:fs')

/** CPU time of leakwatch's background thread(s) in this process, ns; null where unreadable. */
function leakwatchThreadNs() {
  try {
    let ns = 0
    for (const tid of fs.readdirSync('/proc/self/task')) {
      if (fs.readFileSync(`/proc/self/task/${tid}/comm`, 'utf8').trim() !== 'leakwatch') continue
      ns += Number(fs.readFileSync(`/proc/self/task/${tid}/schedstat`, 'utf8').split(' ')[0])
    }
    return ns
  } catch {
    return null
  }
}

/** What leakwatch has spent so far, in µs of CPU: its thread, its callbacks, its GCs. */
function leakwatchSpent() {
  if (!watcher) return null
  const s = watcher.stats()
  const full = s.byType.markSweepCompact
  const thread = leakwatchThreadNs()
  return {
    threadUs: thread == null ? null : thread / 1000,
    callbacksUs: s.callbackCost.totalNs / 1000,
    requestedGcs: s.requestedGcs,
    requestedGcUs: full && full.count > 0 ? (s.requestedGcs * full.pauseMs * 1000) / full.count : 0,
  }
}

const app = express()
let requests = 0
/** @type {{ cpuUs: number, requests: number, leakwatch: ReturnType<typeof leakwatchSpent> }[]} */
const marks = []
app.post('/mark', (req, res) => {
  const { user, system } = process.cpuUsage()
  marks.push({ cpuUs: user + system, requests, leakwatch: leakwatchSpent() })
  res.json({ marks: marks.length })
})
app.use((req, res, next) => {
  requests++
  next()
})
app.use(express.json({ limit: '64kb' }))
app.post('/orders', (req, res) => {
  const { customer, lines } = req.body || {}
  if (typeof customer !== 'string' || !Array.isArray(lines)) {
    res.status(400).json({ error: 'customer and lines are required' })
    return
  }
  let net = 0
  let tax = 0
  const priced = []
  for (const line of lines) {
    const item = catalogue.get(line.sku)
    if (!item || !Number.isInteger(line.qty) || line.qty <= 0) {
      res.status(422).json({ error: `bad line ${JSON.stringify(line)}` })
      return
    }
    const lineNet = item.cents * line.qty
    net += lineNet
    tax += Math.round(lineNet * item.taxRate)
    priced.push({ sku: item.sku, name: item.name, qty: line.qty, unitCents: item.cents, netCents: lineNet })
  }
  res.json({ customer, lines: priced, netCents: net, taxCents: tax, totalCents: net + tax, pricedAt: new Date().toISOString() })
})

const seen = { polls: 0, sampling: 0 }
const poll = watcher && setInterval(() => {
  seen.polls++
  if (watcher.stats().attribution === 'sampling') seen.sampling++
}, 250)

const server = app.listen(0, '127.0.0.1', () => {
  console.log(JSON.stringify({ port: server.address().port }))
})

process.on('SIGTERM', () => {
  if (poll) clearInterval(poll)
  const s = watcher && watcher.stats()
  const [from, to] = marks
  const served = from && to ? Math.max(1, to.requests - from.requests) : null
  const spent = (key) => (served && from.leakwatch && to.leakwatch && to.leakwatch[key] != null
    ? (to.leakwatch[key] - from.leakwatch[key]) / served : null)
  console.log(JSON.stringify({
    variant,
    cpuUsPerRequest: served ? (to.cpuUs - from.cpuUs) / served : null,
    // leakwatch's own, per request served in the measured part, µs.
    leakwatchUsPerRequest: served && from.leakwatch
      ? { thread: spent('threadUs'), callbacks: spent('callbacksUs'), requestedGcs: spent('requestedGcUs') }
      : null,
    requestedGcsMeasured: served && from.leakwatch ? to.leakwatch.requestedGcs - from.leakwatch.requestedGcs : null,
    samplingShare: watcher ? seen.sampling / Math.max(1, seen.polls) : null,
    fullGcs: s ? s.num_full_gc : null,
    requestedGcs: s ? s.requestedGcs : null,
    heapUsed: process.memoryUsage().heapUsed,
  }))
  server.close()
  process.exit(0)
})
