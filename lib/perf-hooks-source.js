// @ts-check
'use strict'

// Fallback GC source: perf_hooks 'gc' entries plus v8.getHeapStatistics(), fed into the same
// native pipeline when V8's GC callbacks cannot be used. Heap figures are read when the
// entry is delivered (shortly after the GC), not inside it.

const { PerformanceObserver, constants } = require('node:perf_hooks')
const v8 = require('node:v8')
const { GC_KIND } = require('./names')

const KIND_NAMES = new Map([
  [constants.NODE_PERFORMANCE_GC_MINOR, GC_KIND.scavenge],
  [constants.NODE_PERFORMANCE_GC_MAJOR, GC_KIND.markSweepCompact],
  [constants.NODE_PERFORMANCE_GC_INCREMENTAL, GC_KIND.incrementalMarking],
  [constants.NODE_PERFORMANCE_GC_WEAKCB, GC_KIND.processWeakCallbacks],
])

/** A perf_hooks 'gc' entry (`detail`: `{ kind, flags }`). @typedef {{ duration: number, detail?: any }} GcEntry */

/**
 * Feeds perf_hooks GC entries to `native` (the monitor); returns the function that stops.
 * @param {import('./native').Monitor} native
 */
function observeGc(native) {
  const observer = new PerformanceObserver((/** @type {{ getEntries(): GcEntry[] }} */ list) => {
    const heap = v8.getHeapStatistics()
    for (const entry of list.getEntries()) {
      const detail = entry.detail || {}
      const kind = KIND_NAMES.get(detail.kind)
      if (!kind) continue
      const forced = ((detail.flags || 0) & constants.NODE_PERFORMANCE_GC_FLAGS_FORCED) !== 0
      native.recordGc(kind, entry.duration, heap, forced)
    }
  })
  observer.observe({ entryTypes: ['gc'] })
  return () => observer.disconnect()
}

module.exports = { observeGc }
