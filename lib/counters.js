'use strict'

// Event counts of this isolate behind the metrics exporters. Monotonic for the life of the
// isolate: a watcher stopped and started again does not reset them (GC totals of stopped
// watchers are carried over).

const GC_TYPES = ['scavenge', 'minorMarkCompact', 'markSweepCompact', 'incrementalMarking',
  'processWeakCallbacks']

// Known label values start at 0, so rate() and increase() see the first event.
const TRIGGERS = ['leak', 'heap-used', 'rss', 'signal', 'api', 'near-heap-limit']
const SKIP_REASONS = ['memory', 'disk', 'cooldown']

const counts = {
  leaks: { heap: 0, external: 0, rss: 0 },
  /** trigger → snapshots written. */
  snapshotsWritten: new Map(TRIGGERS.map((t) => [t, 0])),
  snapshotBytes: 0,
  /** reason ('memory', 'disk', 'cooldown') → snapshots skipped. */
  snapshotsSkipped: new Map(SKIP_REASONS.map((r) => [r, 0])),
  /** error code → `error` events (and faults reported on stderr). */
  errors: new Map(),
  /** GC count and pause (ms) per type of watchers that have stopped. */
  gcCarry: Object.fromEntries(GC_TYPES.map((t) => [t, { count: 0, pauseMs: 0 }])),
  requestedGcsCarry: 0,
}

function bump(map, key, by = 1) {
  map.set(key, (map.get(key) || 0) + by)
}

function leak(metric) {
  if (metric in counts.leaks) counts.leaks[metric] += 1
}

function snapshotWritten(info) {
  bump(counts.snapshotsWritten, info.reason)
  counts.snapshotBytes += info.bytes
}

function snapshotSkipped(skip) {
  bump(counts.snapshotsSkipped, skip.reason)
}

function error(code) {
  bump(counts.errors, code)
}

/** A watcher's final stats, when it stops. */
function retire(stats) {
  if (!stats) return
  for (const t of GC_TYPES) {
    counts.gcCarry[t].count += stats.byType[t].count
    counts.gcCarry[t].pauseMs += stats.byType[t].pauseMs
  }
  counts.requestedGcsCarry += stats.requestedGcs
}

module.exports = { counts, GC_TYPES, leak, snapshotWritten, snapshotSkipped, error, retire }
