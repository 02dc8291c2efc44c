// @ts-check
'use strict'

// The instruments leakwatch exports, independent of the metrics library: one list read by the
// Prometheus (lib/prometheus.js) and OpenTelemetry (lib/opentelemetry.js) adapters. Each
// instrument reads its samples from a view of this isolate taken once per scrape: the running
// watcher's latest stats (null when none runs) and the facade's counters (lib/counters.js).
//
// Names follow each system's conventions (base units: bytes, seconds): Prometheus
// `leakwatch_heap_used_bytes`, `…_total` for counters; OpenTelemetry `leakwatch.heap.used`
// with unit `By`. Label keys are the same in both.

const v8 = require('node:v8')
const { GC_KINDS, METRICS, TRIGGERS, SKIP_REASONS } = require('./names')

/**
 * One consistent reading of this isolate for every instrument of a scrape.
 * @typedef {{ stats: any, levels: { used: number, limit: number, external: number, rss: number },
 *   counts: import('./counters').Counters['counts'] }} View
 * @typedef {() => View} ViewSource
 * @typedef {[Record<string, string>, number]} Sample labels and value
 */

/**
 * What the instruments read. `stats`: the running watcher's latest stats, or null. `levels`:
 * its figures, or read now when no watcher runs (so memory levels are never a made-up 0).
 * @param {{ stats(): any } | null} running
 * @param {import('./counters').Counters['counts']} counts
 * @returns {View}
 */
function takeView(running, counts) {
  const stats = running ? running.stats() : null
  let levels
  if (stats) {
    levels = { used: stats.heap.used, limit: stats.heap.limit, external: stats.heap.external, rss: stats.rss }
  } else {
    const heap = v8.getHeapStatistics()
    const usage = process.memoryUsage()
    levels = { used: heap.used_heap_size, limit: heap.heap_size_limit, external: usage.external, rss: usage.rss }
  }
  return { stats, levels, counts }
}

/** @param {(stats: any, metric: string) => number | null} fn */
const perMetric = (fn) => (/** @type {any} */ stats) => /** @type {Sample[]} */ (METRICS
  .map((metric) => [{ metric }, fn(stats, metric)])
  .filter(([, value]) => value !== null))
/** @param {(stats: any) => Sample[]} fn */
const fromStats = (fn) => (/** @type {View} */ { stats }) => (stats ? fn(stats) : [])
/** @param {(view: View) => number} fn */
const single = (fn) => (/** @type {View} */ view) => /** @type {Sample[]} */ ([[{}, fn(view)]])
/** @param {Map<string, number>} map @param {string} key @returns {Sample[]} */
const fromMap = (map, key) => [...map].map(([k, v]) => [{ [key]: k }, v])
/** @param {View} view @param {string} type @param {'count' | 'pauseMs'} field */
const gcTotal = ({ stats, counts }, type, field) =>
  counts.gcCarry[type][field] + (stats ? stats.byType[type][field] : 0)

/**
 * The instruments. `kind`: 'gauge' (a level) or 'counter' (monotonic total). `read(view)`
 * returns `[labels, value]` pairs; a gauge with nothing to report (no watcher, no trend yet)
 * returns none.
 * @type {{ prom: string, otel: string, unit: string, kind: 'gauge' | 'counter',
 *   labels: string[], help: string, read: (view: View) => Sample[] }[]}
 */
const INSTRUMENTS = [
  {
    prom: 'leakwatch_running',
    otel: 'leakwatch.running',
    unit: '1',
    kind: 'gauge',
    labels: [],
    help: '1 while leakwatch monitors this isolate, else 0.',
    read: single(({ stats }) => (stats ? 1 : 0)),
  },
  {
    prom: 'leakwatch_leak_suspected',
    otel: 'leakwatch.leak.suspected',
    unit: '1',
    kind: 'gauge',
    labels: ['metric'],
    help: '1 from a leak event until its leak-stopped event, per metric (heap, external, rss).',
    read: fromStats(perMetric((s, m) => (s.leak[m] ? 1 : 0))),
  },
  {
    prom: 'leakwatch_growth_rate_bytes_per_second',
    otel: 'leakwatch.memory.growth_rate',
    unit: 'By/s',
    kind: 'gauge',
    labels: ['metric'],
    help: 'Growth rate over the detection window (Theil-Sen slope; x3600 for the leak event\'s ' +
      'bytesPerHour), per metric; absent while warming up or in consecutive mode.',
    read: fromStats(perMetric((s, m) => (s.trend[m] ? s.trend[m].bytesPerHour / 3600 : null))),
  },
  {
    prom: 'leakwatch_time_to_limit_seconds',
    otel: 'leakwatch.memory.time_to_limit',
    unit: 's',
    kind: 'gauge',
    labels: ['metric', 'limit'],
    help: 'Time until the metric reaches its limit at the window\'s growth rate (stats.trend ' +
      'timeToLimitMs), per metric, labelled with the limit (heap-limit, memoryLimitBytes, cgroup, ' +
      'system); absent while not growing, warming up, or with no known limit.',
    read: fromStats(({ trend }) => METRICS.flatMap((m) => {
      const t = trend[m]
      return t && t.timeToLimitMs != null && t.limit ? [[{ metric: m, limit: t.limit.kind }, t.timeToLimitMs / 1000]] : []
    })),
  },
  {
    prom: 'leakwatch_heap_baseline_bytes',
    otel: 'leakwatch.heap.baseline',
    unit: 'By',
    kind: 'gauge',
    labels: [],
    help: 'V8 heap used after the latest full GC (the post-GC baseline); 0 while no watcher runs.',
    read: fromStats((s) => [[{}, s.current_base]]),
  },
  {
    prom: 'leakwatch_heap_used_bytes',
    otel: 'leakwatch.heap.used',
    unit: 'By',
    kind: 'gauge',
    labels: [],
    help: 'V8 heap used after the latest GC of any kind (read live while no watcher runs).',
    read: ({ levels }) => [[{}, levels.used]],
  },
  {
    prom: 'leakwatch_heap_limit_bytes',
    otel: 'leakwatch.heap.limit',
    unit: 'By',
    kind: 'gauge',
    labels: [],
    help: 'V8 heap size limit (out-of-memory threshold).',
    read: ({ levels }) => [[{}, levels.limit]],
  },
  {
    prom: 'leakwatch_external_memory_bytes',
    otel: 'leakwatch.memory.external',
    unit: 'By',
    kind: 'gauge',
    labels: [],
    help: 'Memory held outside the V8 heap by JS objects (Buffers, ArrayBuffers).',
    read: ({ levels }) => [[{}, levels.external]],
  },
  {
    prom: 'leakwatch_resident_memory_bytes',
    otel: 'leakwatch.memory.rss',
    unit: 'By',
    kind: 'gauge',
    labels: [],
    help: 'Resident set size of the process, as last sampled.',
    read: ({ levels }) => [[{}, levels.rss]],
  },
  {
    prom: 'leakwatch_gc_collections_total',
    otel: 'leakwatch.gc.collections',
    unit: '{collection}',
    kind: 'counter',
    labels: ['type'],
    help: 'Garbage collections of this isolate by type.',
    read: (view) => GC_KINDS.map((type) => [{ type }, gcTotal(view, type, 'count')]),
  },
  {
    prom: 'leakwatch_gc_pause_seconds_total',
    otel: 'leakwatch.gc.pause_time',
    unit: 's',
    kind: 'counter',
    labels: ['type'],
    help: 'Time the isolate spent paused in garbage collections, by type.',
    read: (view) => GC_KINDS.map((type) => [{ type }, gcTotal(view, type, 'pauseMs') / 1000]),
  },
  {
    prom: 'leakwatch_confirmation_gcs_total',
    otel: 'leakwatch.gc.confirmations',
    unit: '{collection}',
    kind: 'counter',
    labels: [],
    help: 'Full GCs leakwatch requested to confirm growth between V8\'s own full GCs.',
    read: single(({ stats, counts }) => counts.requestedGcsCarry + (stats ? stats.requestedGcs : 0)),
  },
  {
    prom: 'leakwatch_leaks_total',
    otel: 'leakwatch.leaks',
    unit: '{leak}',
    kind: 'counter',
    labels: ['metric'],
    help: 'leak events, per metric.',
    read: ({ counts }) => METRICS.map((metric) => [{ metric }, counts.leaks[metric]]),
  },
  {
    prom: 'leakwatch_snapshots_written_total',
    otel: 'leakwatch.snapshots.written',
    unit: '{snapshot}',
    kind: 'counter',
    labels: ['trigger'],
    help: `Heap snapshots written, by trigger (${TRIGGERS.join(', ')}).`,
    read: ({ counts }) => fromMap(counts.snapshotsWritten, 'trigger'),
  },
  {
    prom: 'leakwatch_snapshot_written_bytes_total',
    otel: 'leakwatch.snapshots.written_size',
    unit: 'By',
    kind: 'counter',
    labels: [],
    help: 'Bytes of heap snapshots written.',
    read: single(({ counts }) => counts.snapshotBytes),
  },
  {
    prom: 'leakwatch_snapshots_skipped_total',
    otel: 'leakwatch.snapshots.skipped',
    unit: '{snapshot}',
    kind: 'counter',
    labels: ['reason'],
    help: `Heap snapshots not written, by reason (${SKIP_REASONS.join(', ')}).`,
    read: ({ counts }) => fromMap(counts.snapshotsSkipped, 'reason'),
  },
  {
    prom: 'leakwatch_errors_total',
    otel: 'leakwatch.errors',
    unit: '{error}',
    kind: 'counter',
    labels: ['code'],
    help: 'Runtime faults by code (error events and failed writeSnapshot() calls).',
    read: ({ counts }) => fromMap(counts.errors, 'code'),
  },
]

/**
 * A view shared by every instrument read in the same turn of the event loop (one scrape reads
 * all instruments synchronously), so the figures of one scrape agree with each other.
 * @param {ViewSource} take
 * @returns {ViewSource}
 */
function sharedView(take) {
  /** @type {View | null} */
  let view = null
  return () => {
    if (!view) {
      view = take()
      setImmediate(() => { view = null }).unref()
    }
    return view
  }
}

module.exports = { INSTRUMENTS, takeView, sharedView }
