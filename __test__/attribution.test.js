'use strict'

// Allocation sites that cost nothing until memory grows: with the default `attribution`, V8's
// sampling heap profiler is off on a steady process, starts on early growth, serves the
// `leak`, and stops once growth has stopped. V8's own state is read in the child through a
// second inspector session. No timing assertion: only the order of what happened.

const test = require('node:test')
const assert = require('node:assert/strict')
const { runFixture, jsonLines } = require('./helpers')

test('the sampling profiler runs only from early growth until growth stops', async () => {
  // A 256 MB heap: the fast leak is urgent, so it is reported without the evidence span.
  // V8's memory reducer is off: once growth stops, no full GC comes on its own, so the end of
  // the leak is seen only through the full GCs leakwatch requests to re-check it.
  const r = await runFixture('attribution-on-growth.js', {
    nodeArgs: ['--max-old-space-size=256', '--no-memory-reducer'], timeoutMs: 240_000,
  })
  assert.equal(r.code, 0, r.stderr)
  const [out] = jsonLines(r)
  assert.equal(out.source, 'v8')
  // Steady: idle, and V8 has no sampling profiler running (the heap's and external memory's
  // detectors: see the fixture for RSS at start-up).
  assert.deepEqual(out.steady, ['idle'], JSON.stringify(out))
  assert.equal(out.steadyProfiler, false)
  // Growth: the profiler started once the heap grew (not before), and the leak carries sites
  // of the leaking code, so it was sampling while the leak grew.
  assert.equal(out.leakProfiler, true)
  assert.equal(out.leak.attribution.status, 'ok')
  assert.ok(new Date(out.leak.attribution.since) >= new Date(out.leakingFrom), JSON.stringify(out))
  assert.ok(out.leak.stacks.length >= 1, JSON.stringify(out.leak))
  assert.ok(out.leak.stacks[0].some((frame) => /^makeOrderBatch \(.*attribution-on-growth\.js:\d+:\d+\)$/.test(frame)),
    out.leak.stacks[0].join('\n'))
  assert.ok(out.leak.bytes[0] > 1024 * 1024, `bytes ${out.leak.bytes[0]}`)
  // Growth stopped: `leak-stopped`, then idle again, and V8's profiler is stopped.
  assert.ok(out.stoppedAtMs > out.leakAtMs)
  // leakwatch requested a full GC between the leak and its end.
  assert.ok(out.requestedAtStop > out.requestedAtLeak, JSON.stringify(out))
  assert.ok(out.idleAtMs > out.leakAtMs)
  assert.equal(out.endProfiler, false)
  // Pausing the profiler kept the session, so V8's heap object ids survived.
  assert.notEqual(out.idBefore, '0')
  assert.equal(out.idAfter, out.idBefore)
})

test("attribution.when: 'always' samples from start() on a steady process", async () => {
  const r = await runFixture('attribution-always.js')
  assert.equal(r.code, 0, r.stderr)
  const [out] = jsonLines(r)
  assert.deepEqual(out, { attribution: 'sampling', profiler: true, afterStop: 'off', profilerAfterStop: false })
})

test('a dump taken while the profiler samples does not leave its names resident', async () => {
  const dir = require('node:fs').mkdtempSync(require('node:path').join(require('node:os').tmpdir(), 'lw-att-names-'))
  const r = await runFixture('attribution-snapshot-names.js', { args: [dir], timeoutMs: 120_000 })
  require('node:fs').rmSync(dir, { recursive: true })
  assert.equal(r.code, 0, r.stderr)
  const [out] = jsonLines(r)
  // The dump's names alone are about 350 MB (300,000 × ~1.2 KiB); kept, RSS stays that high.
  const MB = 1024 * 1024
  assert.ok(out.peak - out.before > 300 * MB, JSON.stringify(out))
  assert.ok(out.after - out.before < 150 * MB, `RSS stayed ${((out.after - out.before) / MB).toFixed(0)} MB up: ${JSON.stringify(out)}`)
  assert.equal(out.attribution, 'sampling', 'sampling goes on after the dump')
})
