// @ts-check
'use strict'

// The fixed vocabularies of leakwatch's payloads and metrics labels, defined once.

/** What asked for a heap snapshot (`reason` of `snapshot`, `trigger` of `snapshot-skipped`). */
const TRIGGER = Object.freeze(/** @type {const} */ ({
  leak: 'leak',
  heapUsed: 'heap-used',
  rss: 'rss',
  signal: 'signal',
  api: 'api',
  nearHeapLimit: 'near-heap-limit',
}))

/** Every trigger, in the order the metrics list them. */
const TRIGGERS = Object.freeze(Object.values(TRIGGER))

/** Triggers that share `snapshot.cooldownMs`. @type {readonly string[]} */
const AUTOMATIC_TRIGGERS = Object.freeze([TRIGGER.leak, TRIGGER.heapUsed, TRIGGER.rss])

/** Why a heap snapshot was not written (`reason` of `snapshot-skipped`). */
const SKIP_REASONS = Object.freeze(['memory', 'disk', 'pause', 'cooldown'])

/** Garbage collection kinds (`byType` keys of `stats`, `type` label of the GC metrics). */
const GC_KIND = Object.freeze(/** @type {const} */ ({
  scavenge: 'scavenge',
  minorMarkCompact: 'minorMarkCompact',
  markSweepCompact: 'markSweepCompact',
  incrementalMarking: 'incrementalMarking',
  processWeakCallbacks: 'processWeakCallbacks',
}))

const GC_KINDS = Object.freeze(Object.values(GC_KIND))

/** The metrics leak detection watches (`metric` of `leak`, keys of `stats.trend`). */
const METRICS = Object.freeze(['heap', 'external', 'rss'])

module.exports = { TRIGGER, TRIGGERS, AUTOMATIC_TRIGGERS, SKIP_REASONS, GC_KIND, GC_KINDS, METRICS }
