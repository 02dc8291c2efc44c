'use strict'

const test = require('node:test')
const assert = require('node:assert/strict')
const { PKG, runScript, jsonLines } = require('./helpers')

const STATS_KEYS = [
  'num_full_gc', 'num_inc_gc', 'heap_compactions', 'usage_trend', 'estimated_base',
  'current_base', 'min', 'max', 'gcType', 'forced', 'pauseMs', 'heap', 'rss', 'byType',
  'source', 'dropped', 'callbackCost', 'leak', 'trend', 'requestedGcs', 'time',
].sort()
const GC_TYPES = ['scavenge', 'minorMarkCompact', 'markSweepCompact', 'incrementalMarking',
  'processWeakCallbacks']

function assertStatsShape(s) {
  assert.deepEqual(Object.keys(s).sort(), STATS_KEYS)
  for (const k of ['num_full_gc', 'num_inc_gc', 'heap_compactions', 'estimated_base',
    'current_base', 'min', 'max', 'rss']) {
    assert.ok(Number.isSafeInteger(s[k]) && s[k] >= 0, `${k} = ${s[k]}`)
  }
  assert.equal(typeof s.usage_trend, 'number')
  assert.deepEqual(Object.keys(s.heap).sort(),
    ['arrayBuffers', 'external', 'limit', 'mallocedMemory', 'total', 'used'])
  for (const [k, v] of Object.entries(s.heap)) assert.ok(Number.isSafeInteger(v) && v >= 0, `heap.${k}`)
  assert.deepEqual(Object.keys(s.byType).sort(), [...GC_TYPES].sort())
  for (const t of GC_TYPES) {
    assert.ok(Number.isSafeInteger(s.byType[t].count))
    assert.ok(s.byType[t].pauseMs >= 0)
  }
  assert.deepEqual(Object.keys(s.leak).sort(), ['external', 'heap', 'rss'])
  assert.deepEqual(Object.keys(s.trend).sort(), ['external', 'heap', 'rss'])
  for (const t of Object.values(s.trend)) {
    if (t !== null) assert.deepEqual(Object.keys(t).sort(), ['baseline', 'bytesPerHour', 'current'])
  }
  assert.ok(s.time instanceof Date)
}

test('stats event after each full GC carries the memwatch fields and the heap', async () => {
  const r = await runScript(`
    const v8 = require('v8')
    const leakwatch = require(${PKG})
    const w = leakwatch.start()
    const events = []
    w.on('stats', (s) => events.push(s))
    const keep = []
    let rounds = 0
    const timer = setInterval(() => {
      for (let i = 0; i < 20000; i++) keep.push({ i, s: 'x'.repeat(20) + i })
      leakwatch.gc()
      if (++rounds === 6) {
        clearInterval(timer)
        setTimeout(() => {
          console.log(JSON.stringify({ events, pulled: w.stats(),
            limit: v8.getHeapStatistics().heap_size_limit, source: w.source }))
          w.stop()
        }, 100)
      }
    }, 20)
  `)
  assert.equal(r.code, 0, r.stderr)
  const [out] = jsonLines(r)
  assert.equal(out.source, 'v8')
  assert.ok(out.events.length >= 6, `got ${out.events.length} stats events`)
  const revive = (s) => ({ ...s, time: new Date(s.time) })
  for (const s of out.events) assertStatsShape(revive(s))
  assertStatsShape(revive(out.pulled))
  const last = out.events[out.events.length - 1]
  assert.equal(last.gcType, 'markSweepCompact')
  assert.equal(last.forced, true, 'leakwatch.gc() is a requested GC')
  assert.ok(last.pauseMs > 0)
  assert.equal(last.num_full_gc, last.byType.markSweepCompact.count)
  assert.equal(last.heap_compactions, last.num_full_gc)
  assert.equal(last.heap.limit, out.limit, 'native heap statistics match v8.getHeapStatistics()')
  assert.equal(last.current_base, last.heap.used)
  assert.ok(last.rss > last.heap.used)
  // The heap grew every round: full GC counts climb and the trend is positive.
  const counts = out.events.map((s) => s.num_full_gc)
  assert.deepEqual(counts, [...counts].sort((a, b) => a - b))
  assert.ok(last.usage_trend > 0, `usage_trend ${last.usage_trend}`)
  assert.ok(last.min > 0 && last.max >= last.min)
  assert.ok(out.pulled.num_full_gc >= last.num_full_gc)
  assert.ok(last.callbackCost.calls > 0 && last.callbackCost.p50Ns > 0)
})

test('a shrinking heap gives a negative usage_trend', async () => {
  const r = await runScript(`
    const leakwatch = require(${PKG})
    const w = leakwatch.start()
    let big = []
    for (let i = 0; i < 12; i++) {
      for (let j = 0; j < 30000; j++) big.push({ j, pad: 'y'.repeat(32) + j })
      leakwatch.gc()
    }
    for (let i = 0; i < 12; i++) {
      big = big.slice(0, Math.floor(big.length * 0.6))
      leakwatch.gc()
    }
    setTimeout(() => { console.log(JSON.stringify(w.stats())); w.stop() }, 200)
  `)
  assert.equal(r.code, 0, r.stderr)
  const [s] = jsonLines(r)
  assert.ok(s.usage_trend < 0, `usage_trend ${s.usage_trend}`)
  assert.ok(s.max > s.current_base)
})

test('statsIntervalMs throttles events but every GC is counted', async () => {
  const r = await runScript(`
    const leakwatch = require(${PKG})
    const w = leakwatch.start({ statsIntervalMs: 60000, sampleIntervalMs: 20 })
    let events = 0
    w.on('stats', () => events++)
    for (let i = 0; i < 5; i++) leakwatch.gc()
    setTimeout(() => { console.log(JSON.stringify({ events, full: w.stats().num_full_gc })); w.stop() }, 300)
  `)
  assert.equal(r.code, 0, r.stderr)
  const [out] = jsonLines(r)
  assert.equal(out.events, 1)
  assert.ok(out.full >= 5, `num_full_gc ${out.full}`)
})

test('memwatch drop-in: the first stats listener on the module starts monitoring', async () => {
  const r = await runScript(`
    const memwatch = require(${PKG})
    console.log(JSON.stringify({ before: memwatch.current() === null }))
    memwatch.on('stats', (s) => {
      console.log(JSON.stringify({ full: s.num_full_gc, trend: typeof s.usage_trend, base: s.current_base }))
      memwatch.stop()
    })
    console.log(JSON.stringify({ after: memwatch.current() !== null }))
    memwatch.gc()
  `)
  assert.equal(r.code, 0, r.stderr)
  const out = jsonLines(r)
  assert.deepEqual(out[0], { before: true })
  assert.deepEqual(out[1], { after: true })
  assert.equal(out[2].full, 1)
  assert.equal(out[2].trend, 'number')
  assert.ok(out[2].base > 0)
})

test('stats.trend gives each metric growth rate over the window once warm-up is over', async () => {
  const r = await runScript(`
    const leakwatch = require(${PKG})
    const w = leakwatch.start({ attribution: false,
      detection: { warmupMs: 0, windowMs: 2000, external: false, rss: false } })
    const before = w.stats().trend
    const keep = []
    let rounds = 0
    const timer = setInterval(() => {
      for (let i = 0; i < 20000; i++) keep.push({ i, s: 'x'.repeat(20) + i })
      leakwatch.gc()
      if (++rounds === 8) {
        clearInterval(timer)
        const { trend, current_base } = w.stats()
        console.log(JSON.stringify({ before, after: trend, base: current_base }))
        w.stop()
      }
    }, 50)
  `)
  assert.equal(r.code, 0, r.stderr)
  const [{ before, after, base }] = jsonLines(r)
  assert.deepEqual(before, { heap: null, external: null, rss: null }, 'no trend before any point')
  assert.equal(after.external, null, 'a metric turned off has no trend')
  assert.equal(after.rss, null)
  // About 1.5 MB per 50 ms round: far above zero, and the levels are the heap's.
  assert.ok(after.heap.bytesPerHour > 1e9, `heap trend ${after.heap.bytesPerHour} B/h`)
  assert.ok(after.heap.current > after.heap.baseline)
  assert.equal(after.heap.current, base, 'the latest level is the heap after the latest full GC')
})
