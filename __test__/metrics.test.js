'use strict'

// leakwatch.openTelemetry() read back through the OpenTelemetry SDK's in-memory exporter, and
// leakwatch.prometheus()'s registration rules. (The scrape over HTTP after a real leak is in
// example.test.js.)

const test = require('node:test')
const assert = require('node:assert/strict')
const fs = require('node:fs')
const os = require('node:os')
const path = require('node:path')
const { runFixture, jsonLines } = require('./helpers')

test('OpenTelemetry: the instruments reach the global meter provider with units and values', async (t) => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'leakwatch-otel-'))
  t.after(() => fs.rmSync(dir, { recursive: true, force: true }))
  const r = await runFixture('metrics-opentelemetry.js', { args: [dir] })
  assert.equal(r.code, 0, r.stderr)
  const [{ again, rounds, names, out, snapshotBytes }] = jsonLines(r)
  assert.equal(again, true, 'a second call returns the same handle')
  // Instruments with no data point yet (no error happened) are not exported.
  assert.deepEqual(Object.keys(out).sort(), names.filter((n) => n !== 'leakwatch.errors').sort())
  const point = (name, attrs = {}) => {
    const found = out[name].points.find(([a]) => Object.entries(attrs).every(([k, v]) => a[k] === v))
    return found && found[1]
  }
  for (const m of Object.values(out)) assert.equal(m.scope, 'leakwatch')

  assert.equal(out['leakwatch.running'].type, 'OBSERVABLE_GAUGE')
  assert.equal(point('leakwatch.running'), 1)
  assert.equal(point('leakwatch.leak.suspected', { metric: 'heap' }), 1)
  assert.equal(point('leakwatch.leak.suspected', { metric: 'rss' }), 0)
  assert.equal(out['leakwatch.leaks'].type, 'OBSERVABLE_COUNTER')
  assert.ok(point('leakwatch.leaks', { metric: 'heap' }) >= 1)
  assert.equal(out['leakwatch.memory.growth_rate'].unit, 'By/s')
  assert.ok(point('leakwatch.memory.growth_rate', { metric: 'heap' }) > 1e5)
  assert.equal(point('leakwatch.memory.growth_rate', { metric: 'rss' }), undefined, 'rss is off')
  assert.equal(out['leakwatch.heap.used'].unit, 'By')
  assert.ok(point('leakwatch.heap.baseline') > 10e6)
  assert.ok(point('leakwatch.heap.limit') > point('leakwatch.heap.used'))
  assert.ok(point('leakwatch.memory.rss') > point('leakwatch.heap.baseline'))
  assert.equal(out['leakwatch.gc.pause_time'].unit, 's')
  assert.equal(out['leakwatch.gc.pause_time'].type, 'OBSERVABLE_COUNTER')
  assert.ok(point('leakwatch.gc.collections', { type: 'markSweepCompact' }) >= rounds)
  assert.ok(point('leakwatch.gc.pause_time', { type: 'markSweepCompact' }) > 0)
  assert.equal(point('leakwatch.snapshots.written', { trigger: 'api' }), 1)
  assert.equal(point('leakwatch.snapshots.written', { trigger: 'leak' }), 0)
  assert.equal(point('leakwatch.snapshots.written_size'), snapshotBytes)
  assert.equal(point('leakwatch.snapshots.skipped', { reason: 'memory' }), 0)
})

test('Prometheus: one registration per registry, counters survive a restart, clear errors', async () => {
  const r = await runFixture('metrics-prometheus.js')
  assert.equal(r.code, 0, r.stderr)
  const [out] = jsonLines(r)
  assert.equal(out.same, true)
  assert.deepEqual(out.idle, { running: 0, heapLive: true, baseline: 0, gcs: 0 },
    'no watcher: counters at 0, memory levels read live, no post-GC baseline')
  assert.ok(out.gcs[0] >= 2 && out.gcs[1] > out.gcs[0], `GC totals monotonic across a restart: ${out.gcs}`)
  assert.equal(out.running, 1)
  assert.deepEqual(out.errors, {
    unknown: ['TypeError', 'ERR_LEAKWATCH_UNKNOWN_OPTION'],
    notRegistry: ['TypeError', 'ERR_LEAKWATCH_INVALID_ARGUMENT'],
    notObject: ['TypeError', 'ERR_LEAKWATCH_INVALID_ARGUMENT'],
    taken: ['Error', 'ERR_LEAKWATCH_METRIC_EXISTS'],
  })
  assert.deepEqual(out.otherLeft, ['leakwatch_heap_used_bytes'], 'a refused registration adds nothing')
  assert.equal(out.afterUnregister, 0)
  assert.equal(out.reRegistered, true)
})
