'use strict'

// The fixed allocation-heavy job: short-lived objects (scavenges), a ring of survivors
// (promotion) and an old-generation table that fills and is dropped (mark-compacts). It
// yields to the event loop between chunks so that monitors deliver their events during it.
//
//   node job.js MODE CHUNKS     MODE: baseline | leakwatch | leakwatch-attribution |
//                                     memwatch | gc-stats | datadog | perf_hooks;
//                               CHUNKS = 0 measures start-up only
// `leakwatch` is the GC hooks, sampler and detectors (attribution off); `leakwatch-attribution`
// adds the sampling heap profiler for the whole run (`attribution: { when: 'always' }`: by
// default it runs only on early growth, which this job does not have).

const path = require('node:path')
const mode = process.argv[2]
const chunks = Number(process.argv[3])
const peers = path.join(__dirname, '..', 'peers', 'node_modules')

// Every mode loads leakwatch, so only monitoring differs between runs.
const leakwatch = require('../..')
let report = () => ({})

switch (mode) {
  case 'baseline':
    break
  case 'leakwatch':
  case 'leakwatch-attribution': {
    const w = leakwatch.start(mode === 'leakwatch' ? { attribution: false } : { attribution: { when: 'always' } })
    let events = 0
    w.on('stats', () => events++)
    report = () => {
      const s = w.stats()
      return {
        events, scavenges: s.byType.scavenge.count, markCompacts: s.byType.markSweepCompact.count,
        callbacks: s.callbackCost.calls, callbackMeanNs: s.callbackCost.totalNs / Math.max(1, s.callbackCost.calls),
        callbackP50Ns: s.callbackCost.p50Ns, callbackP99Ns: s.callbackCost.p99Ns,
      }
    }
    break
  }
  case 'memwatch': {
    const memwatch = require(path.join(peers, '@airbnb', 'node-memwatch'))
    let events = 0
    memwatch.on('stats', () => events++)
    report = () => ({ events })
    break
  }
  case 'gc-stats': {
    const gcStats = require(path.join(peers, 'gc-stats'))()
    let events = 0
    gcStats.on('stats', () => events++)
    report = () => ({ events })
    break
  }
  case 'datadog': {
    const metrics = require(path.join(peers, '@datadog', 'native-metrics'))
    metrics.start()
    report = () => { const s = metrics.stats(); metrics.stop(); return { gcTypes: Object.keys(s.gc || {}).length } }
    break
  }
  case 'perf_hooks': {
    const { PerformanceObserver } = require('node:perf_hooks')
    let events = 0
    new PerformanceObserver((list) => { events += list.getEntries().length }).observe({ entryTypes: ['gc'] })
    report = () => ({ events })
    break
  }
  default:
    throw new Error(`unknown mode ${mode}`)
}

const ring = new Array(4096)
let table = []
let checksum = 0
let chunk = 0

function work() {
  for (let i = 0; i < 20000; i++) {
    const n = chunk * 20000 + i
    const item = { id: n, name: 'item-' + n, tags: [n, n + 1, n + 2], meta: { weight: n * 0.5 } }
    ring[n & 4095] = item
    if ((n & 7) === 0) table.push({ n, values: [n, n * 2, n * 3, n * 4] })
    checksum = (checksum + item.tags.length + item.name.length) | 0
  }
  if (table.length > 150000) table = []
  if (++chunk < chunks) setImmediate(work)
  else finish()
}

const started = process.hrtime.bigint()
function finish() {
  const ms = Number(process.hrtime.bigint() - started) / 1e6
  const cpu = process.cpuUsage()
  console.log(JSON.stringify({ mode, chunks, ms, cpuMs: (cpu.user + cpu.system) / 1000, checksum, ...report() }))
  if (mode.startsWith('leakwatch')) leakwatch.stop()
}

if (chunks > 0) setImmediate(work)
else finish()
