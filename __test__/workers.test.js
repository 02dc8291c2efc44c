'use strict'

const test = require('node:test')
const assert = require('node:assert/strict')
const { runFixture, jsonLines } = require('./helpers')

test('a worker gets its own watcher and its own events', async () => {
  const r = await runFixture('workers-own-watcher.js')
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
  const r = await runFixture('workers-churn.js', { timeoutMs: 120_000, nodeArgs: ['--expose-gc'] })
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
