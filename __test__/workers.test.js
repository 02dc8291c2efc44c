'use strict'

const test = require('node:test')
const assert = require('node:assert/strict')
const { PKG, runScript, jsonLines } = require('./helpers')

test('a worker gets its own watcher and its own events', async () => {
  const r = await runScript(`
    const { Worker } = require('worker_threads')
    const leakwatch = require(${PKG})
    const main = leakwatch.start()
    let mainEvents = 0
    main.on('stats', () => mainEvents++)
    const worker = new Worker(\`
      const { parentPort } = require('worker_threads')
      const leakwatch = require(${PKG.replace(/\\/g, '\\\\')})
      const w = leakwatch.start()
      const keep = []
      const keepAlive = setInterval(() => {}, 1000)
      w.on('stats', (s) => {
        parentPort.postMessage({ full: s.num_full_gc, used: s.heap.used, limit: s.heap.limit, source: s.source })
        if (s.num_full_gc >= 3) { w.stop(); clearInterval(keepAlive) }
      })
      for (let i = 0; i < 3; i++) {
        for (let j = 0; j < 50000; j++) keep.push({ j })
        leakwatch.gc()
      }
    \`, { eval: true, resourceLimits: { maxOldGenerationSizeMb: 64 } })
    const fromWorker = []
    worker.on('message', (m) => fromWorker.push(m))
    worker.on('exit', (code) => {
      setTimeout(() => {
        console.log(JSON.stringify({ code, fromWorker, mainEvents, mainFull: main.stats().num_full_gc,
          mainLimit: main.stats().heap.limit }))
        main.stop()
      }, 100)
    })
  `)
  assert.equal(r.code, 0, r.stderr)
  const [out] = jsonLines(r)
  assert.equal(out.code, 0)
  const counts = out.fromWorker.map((m) => m.full)
  assert.deepEqual(counts, counts.map((_, i) => i + 1), 'one event per full GC of the worker')
  assert.ok(counts.length >= 3)
  assert.ok(out.fromWorker.every((m) => m.source === 'v8'))
  // The worker's heap limit (64 MiB old space) is its own, not the main thread's.
  assert.ok(out.fromWorker[0].limit < out.mainLimit, JSON.stringify(out))
  assert.equal(out.mainEvents, 0, 'the main watcher sees none of the worker GCs')
  assert.equal(out.mainFull, 0)
})

test('200 workers started and terminated mid-flight: no crash, bounded RSS', async (t) => {
  const r = await runScript(`
    const { Worker } = require('worker_threads')
    const TOTAL = 200
    const CONCURRENCY = 4
    const source = \`
      const { workerData, parentPort } = require('worker_threads')
      const leakwatch = require(${PKG.replace(/\\/g, '\\\\')})
      const w = leakwatch.start({ sampleIntervalMs: 10 })
      parentPort.postMessage('started')
      w.on('stats', () => {})
      const keep = []
      for (let i = 0; i < 50; i++) {
        for (let j = 0; j < 2000; j++) keep.push({ j })
        if (i % 10 === 0) leakwatch.gc()
      }
      if (workerData.stop) w.stop()
      setInterval(() => leakwatch.gc(), 1)
    \`
    let started = 0
    let finished = 0
    let monitoring = 0
    const rss = []
    function launch() {
      if (started >= TOTAL) return
      const n = started++
      const worker = new Worker(source, { eval: true, workerData: { stop: n % 3 === 0 } })
      // Terminated 5-50 ms after leakwatch started in it, mid-GC-loop.
      worker.on('message', () => {
        monitoring++
        setTimeout(() => worker.terminate(), 5 + (n * 7) % 46)
      })
      worker.on('error', (err) => { console.log('worker error ' + err.message); process.exitCode = 2 })
      worker.on('exit', () => {
        finished++
        if (finished % 50 === 0) { global.gc && global.gc(); rss.push(process.memoryUsage.rss()) }
        if (finished === TOTAL) console.log(JSON.stringify({ finished, monitoring, rss }))
        else launch()
      })
    }
    for (let i = 0; i < CONCURRENCY; i++) launch()
  `, { timeoutMs: 120_000, nodeArgs: ['--expose-gc'] })
  assert.equal(r.signal, null, r.stderr)
  assert.equal(r.code, 0, r.stdout + r.stderr)
  const [out] = jsonLines(r)
  assert.equal(out.finished, 200)
  assert.equal(out.monitoring, 200)
  t.diagnostic(`RSS after 50/100/150/200 workers: ${out.rss.map((b) => (b / 1048576).toFixed(0)).join('/')} MiB`)
  const [first, , , last] = out.rss
  // Per-worker state is freed at termination: RSS after 200 workers stays near RSS after 50.
  assert.ok(last - first < 120 * 1024 * 1024,
    `RSS grew ${((last - first) / 1048576).toFixed(1)} MiB from worker 50 to worker 200 (${out.rss})`)
})
