'use strict'

// Runs one workload with one detector: leakwatch (default options unless given) or
// memwatch's leak rule transcribed on perf_hooks (in its own process, so that leakwatch's
// confirmation GCs do not help it). Prints one JSON line:
//   { workload, leaks, detector, found: [{ t, metric, reason, … }], fullGcs, peakRss }
//
//   node bench/detection/child.js NAME [--detector leakwatch|memwatch] [--seconds 60]
//        [--stop-on-leak] [--options JSON] [--trace]   (--trace: one JSON line per GC too)

const { PerformanceObserver, constants } = require('node:perf_hooks')
const v8 = require('node:v8')
const leakwatch = require('../..')
const { WORKLOADS } = require('./workloads')
const { option } = require('../common')

const argv = process.argv.slice(2)
const flag = (name) => argv.includes(name)
const value = (name, fallback) => option(argv, name, fallback)
const name = argv[0]
const seconds = Number(value('--seconds', 60))
const stopOnLeak = flag('--stop-on-leak')
const trace = flag('--trace')
const options = JSON.parse(value('--options', '{}'))
const detector = value('--detector', 'leakwatch')

const workload = WORKLOADS.find((w) => w.name === name)
if (!workload) {
  console.error(`unknown workload ${name}; one of ${WORKLOADS.map((w) => w.name).join(', ')}`)
  process.exit(2)
}

const t0 = performance.now()
const since = () => Math.round(performance.now() - t0) / 1000

// ---- leakwatch --------------------------------------------------------------------------
const found = []
const stopped = []
const watcher = detector === 'leakwatch' ? leakwatch.start(options) : null
if (watcher) {
  watcher.on('leak', (info) => {
    found.push({ t: since(), metric: info.metric, reason: info.reason, bytesPerHour: info.bytesPerHour, gcCount: info.gcCount, windowMs: info.windowMs, timeToLimitMs: info.timeToLimitMs, limit: info.limit, topAllocations: info.topAllocations, start: info.start, end: info.end, attribution: info.attribution })
    if (stopOnLeak) finish()
  })
  watcher.on('leak-stopped', (info) => stopped.push({ t: since(), metric: info.metric, reason: info.reason }))
  watcher.on('error', (err) => console.error(`leakwatch error ${err.code}: ${err.message}`))
}

// ---- memwatch's rule, as memwatch computed it ------------------------------------------
// After each full GC (read on the event loop, as memwatch did): the heap in use grew since
// the previous full GC → one more consecutive growth; 5 in a row → `leak`, count reset.
const rule = { lastBase: 0, consecutive: 0, startT: 0, startBase: 0 }
let fullGcs = 0
const observer = new PerformanceObserver((list) => {
  for (const entry of list.getEntries()) {
    const used = v8.getHeapStatistics().used_heap_size
    if (trace) {
      const h = v8.getHeapStatistics()
      console.log(JSON.stringify({ gc: entry.detail.kind, t: since(), used, rss: process.memoryUsage.rss(), external: h.external_memory, physical: h.total_physical_size }))
    }
    if (entry.detail.kind !== constants.NODE_PERFORMANCE_GC_MAJOR) continue
    fullGcs++
    if (detector !== 'memwatch') continue
    if (rule.lastBase < used) {
      if (rule.consecutive === 0) {
        rule.startT = since()
        rule.startBase = used
      }
      if (++rule.consecutive >= 5) {
        rule.consecutive = 0
        const growth = used - rule.startBase
        found.push({ t: since(), metric: 'heap', reason: `heap growth over 5 consecutive GCs (${Math.round(since() - rule.startT)}s) - ${growth} bytes` })
        if (stopOnLeak) finish()
      }
    } else {
      rule.consecutive = 0
    }
    rule.lastBase = used
  }
})
observer.observe({ entryTypes: ['gc'] })

// ---- run --------------------------------------------------------------------------------
const stopWorkload = workload.start()
let peakRss = 0
// How long the sampling heap profiler ran (stats.attribution, every 250 ms).
const profiler = { polls: 0, sampling: 0, firstT: null }
const rssTimer = setInterval(() => {
  peakRss = Math.max(peakRss, process.memoryUsage.rss())
  if (!watcher) return
  profiler.polls++
  if (watcher.stats().attribution === 'sampling') {
    profiler.sampling++
    profiler.firstT ??= since()
  }
}, 250)
const deadline = setTimeout(finish, seconds * 1000)

let done = false
function finish() {
  if (done) return
  done = true
  clearTimeout(deadline)
  clearInterval(rssTimer)
  stopWorkload()
  observer.disconnect()
  const s = watcher && watcher.stats()
  if (watcher) watcher.stop()
  console.log(JSON.stringify({
    workload: name,
    leaks: workload.leaks,
    detector,
    seconds: since(),
    found,
    stopped,
    fullGcs,
    requestedGcs: s ? s.requestedGcs : 0,
    gcPauseMs: s ? s.byType.markSweepCompact.pauseMs : null,
    peakRss,
    profiler: watcher ? { share: profiler.sampling / Math.max(1, profiler.polls), firstT: profiler.firstT } : null,
  }))
}
