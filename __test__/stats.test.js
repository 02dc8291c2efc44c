'use strict'

const test = require('node:test')
const assert = require('node:assert/strict')
const { runFixture, jsonLines } = require('./helpers')

const STATS_KEYS = [
  'num_full_gc', 'num_inc_gc', 'heap_compactions', 'usage_trend', 'estimated_base',
  'current_base', 'min', 'max', 'gcType', 'forced', 'pauseMs', 'heap', 'rss', 'byType',
  'source', 'dropped', 'callbackCost', 'leak', 'trend', 'requestedGcs', 'attribution', 'time',
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
  assert.ok(['sampling', 'idle', 'off', 'busy', 'unavailable'].includes(s.attribution), s.attribution)
  assert.ok(s.time instanceof Date)
}

test('stats event after each full GC carries the memwatch fields and the heap', async () => {
  const r = await runFixture('stats-fields.js')
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
  const r = await runFixture('stats-shrinking-heap.js')
  assert.equal(r.code, 0, r.stderr)
  const [s] = jsonLines(r)
  assert.ok(s.usage_trend < 0, `usage_trend ${s.usage_trend}`)
  assert.ok(s.max > s.current_base)
})

test('statsIntervalMs throttles events but every GC is counted', async () => {
  const r = await runFixture('stats-interval.js')
  assert.equal(r.code, 0, r.stderr)
  const [out] = jsonLines(r)
  assert.equal(out.events, 1)
  assert.ok(out.full >= 5, `num_full_gc ${out.full}`)
})

test('memwatch drop-in: the first stats listener on the module starts monitoring', async () => {
  const r = await runFixture('stats-memwatch-drop-in.js')
  assert.equal(r.code, 0, r.stderr)
  const out = jsonLines(r)
  assert.deepEqual(out[0], { before: true })
  assert.deepEqual(out[1], { after: true })
  assert.equal(out[2].full, 1)
  assert.equal(out[2].trend, 'number')
  assert.ok(out[2].base > 0)
})

test('stats.trend gives each metric growth rate over the window once warm-up is over', async () => {
  const r = await runFixture('stats-trend.js')
  assert.equal(r.code, 0, r.stderr)
  const [{ before, after, base }] = jsonLines(r)
  assert.deepEqual(before, { heap: null, external: null, rss: null }, 'no trend before any point')
  assert.equal(after.external, null, 'a metric turned off has no trend')
  assert.equal(after.rss, null)
  // About 1.5 MB per 50 ms round: far above zero, and the levels are the heap's.
  assert.ok(after.heap.bytesPerHour > 1e9, `heap trend ${after.heap.bytesPerHour} B/h`)
  assert.ok(after.heap.current > after.heap.baseline)
  assert.equal(after.heap.current, base, 'the latest level is the heap after the latest full GC')
  // Time to the limit at that rate: the heap limit, or the memory room when it is nearer.
  const { timeToLimitMs, limit } = after.heap
  assert.ok(['heap-limit', 'cgroup', 'system'].includes(limit.kind), limit.kind)
  assert.ok(limit.bytes > after.heap.current)
  const expected = (limit.bytes - after.heap.current) / (after.heap.bytesPerHour / 3_600_000)
  assert.ok(Math.abs(timeToLimitMs - expected) < 0.05 * expected, `${timeToLimitMs} ms, expected ~${expected}`)
})
