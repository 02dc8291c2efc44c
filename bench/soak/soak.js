'use strict'

// The soak process (bench/soak/run.js starts it with --expose-gc and the alloc-count build of
// the addon in LEAKWATCH_SOAK_BINDING). The same file is the worker threads' script.
//
// Main thread, for the whole run:
//   - GC pressure: every 20 ms a burst of short-lived objects and a minor GC, a full GC every
//     fifth tick (about 3,000 minor and 600 full GCs a minute besides V8's own scavenges);
//   - a watcher stopped and started again every 7 s, alternating its options;
//   - a worker thread started every 1.5 s (at most 3 alive), each with its own watcher and
//     GC pressure; every fourth writes a snapshot, the others end on their own or are
//     terminated mid-work;
//   - every 15 s a guarded snapshot (maxFiles 3) and an analysis of it, every other time a
//     diff of the last two;
//   - a Prometheus scrape (prom-client) every second.
// Samples are taken between two snapshot jobs, with no worker alive and after a full GC; at
// the end come the table, the JS heap's growth by class between the first and the last
// snapshot (leakwatch's own diff), and the verdict.
//
// --workers bare: the same workers without leakwatch; --workers none: no workers (controls).

const fs = require('node:fs')
const os = require('node:os')
const path = require('node:path')
const { PerformanceObserver } = require('node:perf_hooks')
const { Worker, isMainThread, parentPort, workerData } = require('node:worker_threads')
const { createLeakwatch } = require('../../lib/leakwatch')
const { option, markdownTable } = require('../common')

const binding = require(process.env.LEAKWATCH_SOAK_BINDING)
const leakwatch = createLeakwatch(binding)
const MiB = 1024 * 1024

/** Allocates short-lived objects and runs a minor GC; a full one every `fullEvery` calls. */
function churner(fullEvery) {
  let tick = 0
  return () => {
    let keep = null
    for (let i = 0; i < 2000; i++) keep = { i, s: `churn-${i}`, a: [i, i + 1] }
    tick++
    if (tick % fullEvery === 0) global.gc()
    else global.gc({ type: 'minor' })
    return keep
  }
}

if (!isMainThread) {
  // A worker: its own watcher and GC pressure until it ends, is terminated, or dumps.
  const { dir, lifeMs, dump, bare } = workerData
  if (!bare) {
    const watcher = leakwatch.start({ attribution: false, snapshot: { dir, maxFiles: 3, minFreeDiskBytes: 0 } })
    watcher.on('error', () => {})
  }
  const held = Array.from({ length: 20_000 }, (_, i) => ({ i, name: `worker-${i}` }))
  const churn = churner(5)
  const timer = setInterval(churn, 20)
  setTimeout(async () => {
    if (dump && !bare) {
      try {
        await leakwatch.writeSnapshot(dir)
        parentPort.postMessage('snapshot')
      } catch (err) {
        parentPort.postMessage(`snapshot-failed ${err.code}`)
      }
    }
    clearInterval(timer)
    if (!bare) leakwatch.stop()
    parentPort.postMessage(held.length)
  }, lifeMs)
} else {
  main()
}

async function main() {
  const argv = process.argv.slice(2)
  const minutes = Number(option(argv, '--minutes', 10))
  const sampleMs = Number(option(argv, '--sample-seconds', 30)) * 1000
  // Controls, to tell leakwatch's share of RSS from Node's: no workers at all, or workers
  // that do the same work without leakwatch (no watcher, no dump).
  const workers = option(argv, '--workers', 'leakwatch')
  const durationMs = minutes * 60_000
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'leakwatch-soak-'))
  const started = Date.now()
  const count = { gcs: 0, snapshots: 0, skipped: 0, analyses: 0, diffs: 0, scrapes: 0, cycles: 0,
    workers: 0, terminated: 0, workerSnapshots: 0, autoSnapshots: 0, errors: 0, stats: 0 }
  const errorCodes = new Set()
  const skipReasons = new Set()
  const leaks = new Map()
  // Workers dump into their own directory, so the main thread's maxFiles keeps its last two
  // snapshots for the diff.
  const workerDir = path.join(dir, 'workers')
  fs.mkdirSync(workerDir)

  new PerformanceObserver((list) => { count.gcs += list.getEntries().length }).observe({ entryTypes: ['gc'] })

  // A heap of some substance for the snapshots (~10 MB), rotated slowly so diffs see changes.
  // (Replacements keep the same shape and size: a label built anew each time would be a
  // concatenated string, bigger than the original, and the heap would grow by the soak's doing.)
  const retained = Array.from({ length: 60_000 }, (_, i) => ({ id: i, label: `retained-${i}`, at: 0, tags: [i % 7, i % 11] }))
  const churn = churner(5)
  const gcTimer = setInterval(() => {
    churn()
    const i = Math.floor(Math.random() * retained.length)
    retained[i] = { id: i, label: retained[i].label, at: Date.now(), tags: [i % 7, i % 11] }
  }, 20)

  // Watcher cycles, alternating options.
  let watcher = null
  function startWatcher() {
    const odd = count.cycles % 2 === 1
    watcher = leakwatch.start({
      attribution: odd ? false : undefined,
      detection: { mode: odd ? 'consecutive' : 'trend' },
      // Snapshots on the soak's own schedule: not on leak (memwatch's rule alarms now and then
      // under this many GCs, and the cooldown starts over with each watcher).
      snapshot: { dir, maxFiles: 3, minFreeDiskBytes: 0, onLeak: false, signal: odd ? undefined : 'SIGUSR2' },
    })
    const mode = odd ? 'consecutive' : 'trend'
    watcher.on('leak', (leak) => { leaks.set(`${mode}/${leak.metric}`, (leaks.get(`${mode}/${leak.metric}`) || 0) + 1) })
    watcher.on('stats', () => { count.stats++ })
    watcher.on('snapshot', (info) => { if (info.reason !== 'api') count.autoSnapshots++ })
    watcher.on('error', (err) => { count.errors++; errorCodes.add(err.code) })
    watcher.on('snapshot-skipped', (skip) => { count.skipped++; skipReasons.add(`${skip.trigger}: ${skip.reason}`) })
  }
  startWatcher()
  const cycleTimer = setInterval(() => {
    watcher.stop()
    count.cycles++
    startWatcher()
  }, 7000)

  // Worker churn.
  const alive = new Set()
  let quiet = false
  const workerTimer = setInterval(() => {
    if (workers === 'none' || quiet || alive.size >= 3) return
    const n = count.workers++
    const dump = n % 4 === 0
    const lifeMs = 500 + Math.floor(Math.random() * 2000)
    const worker = new Worker(__filename, { workerData: { dir: workerDir, lifeMs, dump, bare: workers === 'bare' }, env: process.env })
    alive.add(worker)
    worker.on('message', (m) => {
      if (m === 'snapshot') count.workerSnapshots++
      else if (typeof m === 'string' && m.startsWith('snapshot-failed')) errorCodes.add(m)
    })
    worker.on('error', (err) => errorCodes.add(`worker: ${err.message}`))
    worker.on('exit', () => alive.delete(worker))
    // One in three (not the dumping ones) is terminated before it ends on its own.
    if (!dump && n % 3 === 1) {
      setTimeout(() => { count.terminated++; worker.terminate() }, Math.floor(lifeMs / 2))
    }
  }, 1500)

  // Scrapes.
  const client = require('prom-client')
  const register = new client.Registry()
  leakwatch.prometheus({ register, client })
  let scraping = false
  const scrapeTimer = setInterval(async () => {
    if (scraping) return
    scraping = true
    try {
      const text = await register.metrics()
      if (text.includes('leakwatch_running')) count.scrapes++
    } finally {
      scraping = false
    }
  }, 1000)

  // Snapshots, analyses and samples, one after another.
  const wait = (ms) => new Promise((resolve) => setTimeout(resolve, ms))
  const samples = []
  // Samples compare like with like: taken between two snapshot jobs, once the workers of the
  // moment have ended (none is started meanwhile) and after a full GC.
  const sample = async () => {
    quiet = true
    const waitFrom = Date.now()
    while (alive.size > 0 && Date.now() - waitFrom < 20_000) await wait(50)
    global.gc()
    await wait(200)
    quiet = false
    const counts = binding.internalAllocationCounts()
    const usage = process.memoryUsage()
    samples.push({ t: (Date.now() - started) / 1000, rss: usage.rss, heap: usage.heapUsed, live: counts.liveBytes,
      allocs: counts.liveAllocations, total: counts.totalAllocations, ...count })
  }
  await sample()
  let previous = null
  const firstSnapshot = path.join(workerDir, '..', 'first.heapsnapshot.kept')
  let nextSnapshot = Date.now() + 5000
  let nextSample = Date.now() + sampleMs
  while (Date.now() - started < durationMs) {
    if (Date.now() >= nextSnapshot) {
      nextSnapshot = Date.now() + 15_000
      try {
        const info = await leakwatch.writeSnapshot(dir)
        count.snapshots++
        // The first one is kept (maxFiles prunes it) for the closing diff against the last.
        if (count.snapshots === 1) fs.copyFileSync(info.path, firstSnapshot)
        if (fs.existsSync(info.path)) {
          await leakwatch.analyze(info.path)
          count.analyses++
          if (previous && fs.existsSync(previous) && count.snapshots % 2 === 0) {
            await leakwatch.diff(previous, info.path)
            count.diffs++
          }
          previous = info.path
        }
      } catch (err) {
        if (err.code === 'ERR_LEAKWATCH_SNAPSHOT_SKIPPED') { count.skipped++; skipReasons.add(`api: ${err.reason}`) }
        else { count.errors++; errorCodes.add(err.code || err.message) }
      }
    }
    if (Date.now() >= nextSample) {
      nextSample += sampleMs
      await sample()
    }
    await wait(100)
  }

  clearInterval(gcTimer)
  clearInterval(cycleTimer)
  clearInterval(workerTimer)
  clearInterval(scrapeTimer)
  while (alive.size > 0) await wait(100)
  watcher.stop()
  await sample()
  // What grew in the main thread's JS heap between the first and the last snapshot.
  let growth = []
  if (previous && fs.existsSync(firstSnapshot) && fs.existsSync(previous)) {
    const { classes } = await leakwatch.diff(firstSnapshot, previous)
    growth = classes.filter((c) => c.sizeDelta > 0).sort((a, b) => b.sizeDelta - a.sizeDelta).slice(0, 5)
  }
  fs.rmSync(firstSnapshot, { force: true })
  const files = [...fs.readdirSync(dir), ...fs.readdirSync(workerDir)].filter((f) => f !== 'workers')
  fs.rmSync(dir, { recursive: true, force: true })
  report(samples, { workers, minutes, files, errorCodes, skipReasons, leaks, growth })
}

function report(samples, { workers, minutes, files, errorCodes, skipReasons, leaks, growth }) {
  const mb = (b) => (b / MiB).toFixed(1)
  const kb = (b) => (b / 1024).toFixed(0)
  const rows = samples.map((s) => [`${s.t.toFixed(0)} s`, mb(s.rss), mb(s.heap), kb(s.live), String(s.allocs), String(s.gcs),
    String(s.snapshots), String(s.analyses + s.diffs), String(s.scrapes), String(s.workers), String(s.cycles)])
  const last = samples.at(-1)
  console.log(`\nsoak: ${minutes} min, workers: ${workers}, node ${process.version}, ${os.cpus().length} cores, load average at the end ${os.loadavg().map((l) => l.toFixed(1)).join(' ')}`)
  console.log(markdownTable(['time', 'RSS MB', 'JS heap MB', 'leakwatch live KB', 'live allocs', 'GCs', 'snapshots', 'analyses', 'scrapes',
    'workers', 'watcher restarts'], rows))
  console.log('\nevery row: no worker alive, no dump or analysis in flight, after a full GC; the last one after')
  console.log('stopping everything (no watcher)')
  console.log(`totals: ${last.gcs} GCs (${Math.round(last.gcs / minutes)} a minute), ${last.stats} stats events, ` +
    `${last.snapshots} main-thread snapshots (and ${last.autoSnapshots} automatic) and ${last.workerSnapshots} in workers, ${last.skipped} skipped` +
    `${skipReasons.size ? ` (${[...skipReasons].join(', ')})` : ''}, ` +
    `${last.analyses} analyses and ${last.diffs} diffs, ${last.scrapes} scrapes, ${last.workers} workers ` +
    `(${last.terminated} terminated mid-work), ${last.cycles} watcher restarts, ${last.total} allocations by leakwatch`)
  console.log(`JS heap growth from the first to the last snapshot, by class: ${growth.length
    ? growth.map((c) => `${c.name} +${(c.sizeDelta / 1024).toFixed(0)} KB (${c.countDelta >= 0 ? '+' : ''}${c.countDelta})`).join(', ') : 'none'}`)
  console.log(`leak events (mode/metric): ${leaks.size ? [...leaks].map(([k, n]) => `${k} ${n}`).join(', ') : 'none'}`)
  console.log(`errors: ${last.errors}${errorCodes.size ? ` (${[...errorCodes].join(', ')})` : ''}; ` +
    `files left in the dump directory: ${files.length} (${files.filter((f) => f.endsWith('.partial')).length} partial)`)

  // Bounded: the second half's reading is within 10 % (plus a small slack) of the first
  // half's — the highest for leakwatch's own counts and the JS heap, the median for RSS, which
  // swings by a hundred megabytes with what the allocator keeps after each dump and analysis
  // (a leak raises the median too). The first row (before any work) is left out.
  const running = samples.slice(1, -1)
  const half = Math.floor(running.length / 2)
  const verdicts = []
  const max = (xs) => Math.max(...xs)
  const median = (xs) => [...xs].sort((a, b) => a - b)[xs.length >> 1]
  for (const [label, key, slack, unit, pick, by] of [
    ['RSS', 'rss', 16 * MiB, mb, median, 'median'],
    ['JS heap (main thread)', 'heap', MiB, mb, max, 'max'],
    ['leakwatch live bytes', 'live', 256 * 1024, kb, max, 'max'],
    ['leakwatch live allocations', 'allocs', 500, String, max, 'max']]) {
    if (half < 1) break
    const first = pick(running.slice(0, half).map((s) => s[key]))
    const second = pick(running.slice(half).map((s) => s[key]))
    const bounded = second <= first * 1.1 + slack
    verdicts.push(bounded)
    const range = (xs) => `${unit(Math.min(...xs))}–${unit(max(xs))}`
    console.log(`${label}: ${by} of the first half ${unit(first)}, of the second ${unit(second)} ` +
      `(${((second / first - 1) * 100).toFixed(1)} %; range ${range(running.slice(0, half).map((s) => s[key]))}, then ` +
      `${range(running.slice(half).map((s) => s[key]))}) → ${bounded ? 'bounded' : 'GROWING'}`)
  }
  if (verdicts.length === 0) console.log('verdict: too few samples for a verdict (lower --sample-seconds)')
  else console.log(`verdict: ${verdicts.every(Boolean) ? 'bounded' : 'NOT bounded'}`)
  process.exitCode = verdicts.every(Boolean) && last.errors === 0 ? 0 : 1
}
