// @ts-check
'use strict'

// Event counts of one facade (one isolate) behind the metrics exporters. Monotonic for the
// life of the isolate: a watcher stopped and started again does not reset them (GC totals of
// stopped watchers are carried over).

const { TRIGGERS, SKIP_REASONS, GC_KINDS, METRICS } = require('./names')

/** @typedef {ReturnType<typeof createCounters>} Counters */

function createCounters() {
  const counts = {
    /** @type {Record<string, number>} metric → leak events. */
    leaks: Object.fromEntries(METRICS.map((m) => [m, 0])),
    /** trigger → snapshots written; known label values start at 0, so rate() sees the first. */
    snapshotsWritten: new Map(TRIGGERS.map((t) => [t, 0])),
    snapshotBytes: 0,
    /** reason ('memory', 'disk', 'pause', 'cooldown') → snapshots skipped. */
    snapshotsSkipped: new Map(SKIP_REASONS.map((r) => [r, 0])),
    /** @type {Map<string, number>} error code → `error` events (and faults reported on stderr). */
    errors: new Map(),
    /** GC count and pause (ms) per kind, of watchers that have stopped. */
    gcCarry: Object.fromEntries(GC_KINDS.map((t) => [t, { count: 0, pauseMs: 0 }])),
    requestedGcsCarry: 0,
  }

  /** @param {Map<string, number>} map @param {string} key */
  const bump = (map, key, by = 1) => {
    map.set(key, (map.get(key) || 0) + by)
  }

  return {
    counts,
    /** @param {string} metric */
    leak(metric) {
      if (metric in counts.leaks) counts.leaks[metric] += 1
    },
    /** @param {{ reason: string, bytes: number }} info */
    snapshotWritten(info) {
      bump(counts.snapshotsWritten, info.reason)
      counts.snapshotBytes += info.bytes
    },
    /** @param {{ reason: string }} skip */
    snapshotSkipped(skip) {
      bump(counts.snapshotsSkipped, skip.reason)
    },
    /** @param {string} code */
    error(code) {
      bump(counts.errors, code)
    },
    /**
     * A watcher's final stats, when it stops.
     * @param {{ byType: Record<string, { count: number, pauseMs: number }>, requestedGcs: number } | null} stats
     */
    retire(stats) {
      if (!stats) return
      for (const t of GC_KINDS) {
        counts.gcCarry[t].count += stats.byType[t].count
        counts.gcCarry[t].pauseMs += stats.byType[t].pauseMs
      }
      counts.requestedGcsCarry += stats.requestedGcs
    },
  }
}

module.exports = { createCounters }
