'use strict'

// Runs one workload with one detector: leakwatch (default options unless given) or
// memwatch's leak rule transcribed on perf_hooks (in its own process, so that leakwatch's
// confirmation GCs do not help it). Prints one JSON line:
//   { workload, leaks, detector, found: [{ t, metric, reason, … }], fullGcs, peakRss, report }
// (`report`: what the workload's stop() returned, e.g. its request rates).
//
//   node bench/detection/child.js NAME [--detector leakwatch|memwatch] [--seconds 60]
//        [--stop-on-leak] [--options JSON] [--trace]   (--trace: one JSON line per GC too)
//        [--leak-after S]     (a workload with leakAfterS: its healthy seconds, default its own)
//        [--first-seconds S]  (a deploy workload: how long the first process runs, default
//                              --seconds; the second runs --seconds)
//
// A deploy workload is two processes in sequence: this one only supervises. It runs the
// workload in a child (`--phase 1`) for --first-seconds (or to its first `leak` with
// --stop-on-leak), lets it stop and exit, then starts a new one (`--phase 2`) with the same
// Node flags and options: a fresh process, so fresh detection state, as after a deploy. It
// prints one line for both: `found` holds the `leak`s of both processes, each with its `phase`
// and `tInProcess` (seconds since that process started; `t` counts from the first's start).

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
const phase = value('--phase', null)

const workload = WORKLOADS.find((w) => w.name === name)
if (!workload) {
  console.error(`unknown workload ${name}; one of ${WORKLOADS.map((w) => w.name).join(', ')}`)
  process.exit(2)
}

if (workload.deploy && phase === null) return superviseDeploy()

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
const stopWorkload = workload.start({ leakAfterS: Number(value('--leak-after', workload.leakAfterS || 0)), phase: Number(phase || 1) })
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
  const report = stopWorkload()
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
    report: report && typeof report === 'object' ? report : undefined,
  }))
}

// ---- a deploy: two processes in sequence -------------------------------------------------
function superviseDeploy() {
  const { spawn } = require('node:child_process')
  const t0 = performance.now()
  const passed = ['--detector', '--options', '--leak-after'].flatMap((n) => (argv.includes(n) ? [n, value(n)] : []))
  if (stopOnLeak) passed.push('--stop-on-leak')
  if (trace) passed.push('--trace')
  const runPhase = (n, secs) => new Promise((resolve) => {
    const args = [...process.execArgv, __filename, name, '--phase', String(n), '--seconds', String(secs), ...passed]
    const child = spawn(process.execPath, args, { stdio: ['ignore', 'pipe', 'inherit'] })
    let out = ''
    child.stdout.on('data', (d) => { out += d })
    child.on('close', (code) => {
      const lines = out.trim().split('\n')
      const last = lines.pop()
      if (lines.length > 0) console.log(lines.join('\n')) // --trace lines
      let result = null
      try { result = JSON.parse(last) } catch { console.error(`phase ${n} of ${name}: exit ${code}, ${out.slice(0, 300)}`) }
      resolve({ code, result })
    })
  })
  ;(async () => {
    const first = await runPhase(1, Number(value('--first-seconds', seconds)))
    const offset = Math.round(performance.now() - t0) / 1000 // the second process starts now
    const second = await runPhase(2, seconds)
    const phases = [first.result, second.result]
    if (phases.includes(null)) process.exit(first.code || second.code || 1)
    const mark = (events, n, at) => events.map((e) => ({ ...e, t: Math.round((at + e.t) * 1000) / 1000, tInProcess: e.t, phase: n }))
    console.log(JSON.stringify({
      workload: name,
      leaks: workload.leaks,
      detector,
      deploy: true,
      seconds: Math.round(performance.now() - t0) / 1000,
      found: [...mark(phases[0].found, 1, 0), ...mark(phases[1].found, 2, offset)],
      stopped: [...mark(phases[0].stopped, 1, 0), ...mark(phases[1].stopped, 2, offset)],
      fullGcs: phases[0].fullGcs + phases[1].fullGcs,
      requestedGcs: phases[0].requestedGcs + phases[1].requestedGcs,
      peakRss: Math.max(phases[0].peakRss, phases[1].peakRss),
      profiler: phases[0].profiler, // the process of found[0]
      phases: phases.map((p) => ({ seconds: p.seconds, fullGcs: p.fullGcs, requestedGcs: p.requestedGcs, peakRss: p.peakRss, report: p.report })),
    }))
    process.exit(first.code || second.code)
  })()
}
