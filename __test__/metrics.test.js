'use strict'

// leakwatch.openTelemetry() read back through the OpenTelemetry SDK's in-memory exporter, and
// leakwatch.prometheus()'s registration rules. (The scrape over HTTP after a real leak is in
// example.test.js.)

const test = require('node:test')
const assert = require('node:assert/strict')
const fs = require('node:fs')
const os = require('node:os')
const path = require('node:path')
const { runScript, jsonLines } = require('./helpers')

test('OpenTelemetry: the instruments reach the global meter provider with units and values', async (t) => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'leakwatch-otel-'))
  t.after(() => fs.rmSync(dir, { recursive: true, force: true }))
  const r = await runScript(`
    const { metrics } = require('@opentelemetry/api')
    const sdk = require('@opentelemetry/sdk-metrics')
    const exporter = new sdk.InMemoryMetricExporter(sdk.AggregationTemporality.CUMULATIVE)
    const reader = new sdk.PeriodicExportingMetricReader({ exporter, exportIntervalMillis: 3600000 })
    metrics.setGlobalMeterProvider(new sdk.MeterProvider({ readers: [reader] }))

    const leakwatch = require('leakwatch')
    const handle = leakwatch.openTelemetry()
    const again = leakwatch.openTelemetry() === handle
    const w = leakwatch.start({ attribution: false,
      detection: { warmupMs: 0, windowMs: 2000, external: false, rss: false } })
    const keep = []
    let rounds = 0
    const timer = setInterval(() => {
      for (let i = 0; i < 20000; i++) keep.push({ i, s: 'x'.repeat(20) + i })
      leakwatch.gc()
      rounds++
    }, 50)
    w.once('leak', async () => {
      clearInterval(timer)
      const snapshot = await leakwatch.writeSnapshot(${JSON.stringify(dir)})
      await reader.forceFlush()
      const out = {}
      for (const rm of exporter.getMetrics()) {
        for (const sm of rm.scopeMetrics) {
          for (const m of sm.metrics) {
            out[m.descriptor.name] = { scope: sm.scope.name, unit: m.descriptor.unit,
              type: m.descriptor.type, points: m.dataPoints.map((p) => [p.attributes, p.value]) }
          }
        }
      }
      console.log(JSON.stringify({ again, rounds, names: handle.names, out, snapshotBytes: snapshot.bytes }))
      handle.shutdown()
      leakwatch.stop()
    })
  `)
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
  const r = await runScript(`
    const client = require('prom-client')
    const leakwatch = require('leakwatch')
    const codeOf = (fn) => { try { fn(); return null } catch (err) { return [err.name, err.code] } }
    const register = new client.Registry()
    const handle = leakwatch.prometheus({ register })
    const read = async (name, labels = {}) => {
      const metric = (await register.getMetricsAsJSON()).find((m) => m.name === name)
      const v = metric && metric.values.find((x) => Object.entries(labels).every(([k, l]) => x.labels[k] === l))
      return v ? v.value : null
    }
    // Stats are published by the background thread a moment after each GC: poll (5 s at most).
    const until = async (name, labels, ok) => {
      for (let i = 0; i < 250; i++) {
        const v = await read(name, labels)
        if (ok(v)) return v
        await new Promise((r) => setTimeout(r, 20))
      }
      return read(name, labels)
    }
    ;(async () => {
      const out = { same: leakwatch.prometheus({ register }) === handle }
      out.idle = { running: await read('leakwatch_running'),
        heapLive: (await read('leakwatch_heap_used_bytes')) > 1e6,
        baseline: await read('leakwatch_heap_baseline_bytes'),
        gcs: await read('leakwatch_gc_collections_total', { type: 'markSweepCompact' }) }
      leakwatch.start({ attribution: false })
      leakwatch.gc(); leakwatch.gc()
      const mark = { type: 'markSweepCompact' }
      const first = await until('leakwatch_gc_collections_total', mark, (v) => v >= 2)
      leakwatch.stop()
      leakwatch.start({ attribution: false })
      leakwatch.gc()
      out.gcs = [first, await until('leakwatch_gc_collections_total', mark, (v) => v > first)]
      out.running = await read('leakwatch_running')
      leakwatch.stop()
      out.errors = {
        unknown: codeOf(() => leakwatch.prometheus({ registry: register })),
        notRegistry: codeOf(() => leakwatch.prometheus({ register: {} })),
        notObject: codeOf(() => leakwatch.prometheus('default')),
      }
      const other = new client.Registry()
      new client.Gauge({ name: 'leakwatch_heap_used_bytes', help: 'taken', registers: [other] })
      out.errors.taken = codeOf(() => leakwatch.prometheus({ register: other }))
      out.otherLeft = (await other.getMetricsAsJSON()).map((m) => m.name)
      handle.unregister()
      out.afterUnregister = (await register.getMetricsAsJSON()).length
      out.reRegistered = leakwatch.prometheus({ register }) !== handle
      console.log(JSON.stringify(out))
    })()
  `)
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
