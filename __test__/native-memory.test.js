'use strict'

// An `rss` leak says what malloc holds (glibc 2.33+: mallinfo2): a native leak (zlib streams
// kept alive: in use grows) and fragmentation (freed memory pinned under a live block: free
// grows, in use flat) read differently. Classifications only: the figures vary by machine.

const test = require('node:test')
const assert = require('node:assert/strict')
const { runFixture, jsonLines, notChecked } = require('./helpers')
const { MallocReadings, classify } = require('../lib/native-memory')

/** Whether this process's C library has mallinfo2 (glibc 2.33 or later). */
function hasMallinfo2() {
  const report = process.report && process.report.getReport()
  const glibc = report && report.header.glibcVersionRuntime
  if (!glibc) return false
  const [major, minor] = glibc.split('.').map(Number)
  return major > 2 || (major === 2 && minor >= 33)
}

for (const [mode, verdict, wording] of [
  ['in-use', 'native-in-use', /: native memory in use \(a native leak\)$/],
  ['fragmentation', 'fragmentation', /: freed memory malloc keeps \(fragmentation; see MALLOC_ARENA_MAX, malloc_trim\)$/],
]) {
  test(`an rss leak from ${mode === 'in-use' ? 'zlib streams kept alive' : 'freed memory pinned by a live block'} reads as ${verdict}`, async (t) => {
    if (!hasMallinfo2()) return notChecked(t, 'the C library has no mallinfo2 (glibc before 2.33, or musl)')
    const r = await runFixture('native-memory.js', { args: [mode], timeoutMs: 120_000 })
    assert.equal(r.code, 0, r.stderr)
    const [out] = jsonLines(r)
    assert.deepEqual(out.errors, [])
    assert.ok(out.leak, `no rss leak in ${out.rounds} rounds`)
    assert.equal(out.leak.metric, 'rss')
    const m = out.leak.malloc
    assert.equal(m.verdict, verdict, JSON.stringify(out.leak))
    assert.match(out.leak.reason, wording)
    assert.match(out.leak.reason, /; malloc holds .* in use \([+-].*\) and .* free in its arenas \([+-].*\)/)
    for (const key of ['inUse', 'free', 'mmapped', 'arena', 'inUseChange', 'freeChange']) {
      assert.equal(typeof m[key], 'number', key)
    }
    // Which of the two grew is the point: it carries most of the RSS growth.
    const [grew, flat] = mode === 'in-use' ? [m.inUseChange, m.freeChange] : [m.freeChange, m.inUseChange]
    assert.ok(grew > out.leak.growth / 4 && grew > 4 * flat, JSON.stringify(m))
  })
}

test('the malloc verdict: whichever grew more, if it carries a quarter of the growth; absent without mallinfo2', () => {
  const MB = 1e6
  assert.equal(classify(40 * MB, 1 * MB, 30 * MB), 'native-in-use')
  assert.equal(classify(1 * MB, 40 * MB, 30 * MB), 'fragmentation')
  assert.equal(classify(2 * MB, 3 * MB, 30 * MB), 'outside-malloc')
  assert.equal(classify(-5 * MB, -1 * MB, 30 * MB), 'outside-malloc')
  // A binding without mallocFigures (older build) or a C library without mallinfo2 (null):
  // the payload is left as it was.
  for (const native of [{}, { mallocFigures: () => null }]) {
    const readings = new MallocReadings(/** @type {any} */ (native))
    const leak = { growth: 30 * MB, reason: 'rss grew 30 MB' }
    readings.explain(leak)
    assert.deepEqual(leak, { growth: 30 * MB, reason: 'rss grew 30 MB' })
  }
  // Two readings: the change between them.
  let n = 0
  const figures = [{ inUse: 10, free: 5, mmapped: 0, arena: 20 }, { inUse: 10, free: 45 * MB, mmapped: 0, arena: 50 * MB }]
  const readings = new MallocReadings(/** @type {any} */ ({ mallocFigures: () => figures[n++] }))
  const leak = { growth: 40 * MB, reason: 'rss grew 40 MB' }
  readings.explain(leak)
  assert.equal(leak.malloc.verdict, 'fragmentation')
  assert.equal(leak.malloc.freeChange, 45 * MB - 5)
  assert.equal(leak.malloc.inUseChange, 0)
})
