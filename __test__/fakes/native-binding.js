'use strict'

// A fake native binding for the facade's unit tests (lib/leakwatch.js takes the binding as a
// parameter): the shape of binding.d.ts, with the monitor driven by the test. `outcomes`: what
// writeHeapSnapshot() returns next (a function of the request, or an outcome object).

const { BINDING_API_VERSION } = require('../../lib/leakwatch')

const GC_KINDS = ['scavenge', 'minorMarkCompact', 'markSweepCompact', 'incrementalMarking',
  'processWeakCallbacks']

/** A `stats` payload as the binding sends it; `overrides` replace top-level fields. */
function rawStats(overrides = {}) {
  return {
    num_full_gc: 3,
    num_inc_gc: 1,
    heap_compactions: 0,
    usage_trend: 0,
    estimated_base: 10_000_000,
    current_base: 10_000_000,
    min: 9_000_000,
    max: 11_000_000,
    gcType: 'markSweepCompact',
    forced: false,
    pauseMs: 2,
    heap: { used: 20_000_000, total: 30_000_000, limit: 100_000_000, external: 1_000_000, mallocedMemory: 0 },
    rss: 80_000_000,
    byType: Object.fromEntries(GC_KINDS.map((k, i) => [k, { count: i + 1, pauseMs: (i + 1) * 10 }])),
    source: 'v8',
    dropped: { records: 0, events: 0 },
    callbackCost: { calls: 0, totalNs: 0, p50Ns: 0, p99Ns: 0 },
    leak: { heap: false, external: false, rss: false },
    trend: { heap: { bytesPerHour: 7200, baseline: 1, current: 2 } },
    requestedGcs: 2,
    time: Date.UTC(2026, 0, 1),
    ...overrides,
  }
}

function fakeBinding({ version = BINDING_API_VERSION, monitorError = null, hookFailure = null } = {}) {
  const calls = { monitors: [], snapshots: [], pruned: [], nearHeapLimit: [] }
  /** @type {any[]} */
  const outcomes = []

  class NativeWatcher {
    constructor(options, dispatch) {
      if (monitorError) throw monitorError
      this.options = options
      this.dispatch = dispatch
      this.running = true
      this.source = 'v8'
      this.hookFailure = hookFailure
      this.latest = null
      calls.monitors.push(this)
    }

    stats() {
      return this.latest ? structuredClone(this.latest) : null
    }

    recordGc() {}

    stop() {
      this.running = false
    }

    /** What the native dispatcher does: one `(event, payload)` call. */
    send(event, payload) {
      if (event === 'stats') this.latest = payload
      this.dispatch([event, structuredClone(payload)])
    }
  }

  class NearHeapLimitHook {
    constructor(options, onOutcome) {
      this.options = options
      this.onOutcome = onOutcome
      this.armed = true
      calls.nearHeapLimit.push(this)
    }

    disarm() {
      this.armed = false
    }
  }

  class AnalysisJob {
    cancel() {}
    progress() {
      return { phase: 'done', files: 1, bytesRead: 1, bytesTotal: 1 }
    }
  }

  const binding = {
    BINDING_API_VERSION: version,
    NativeWatcher,
    NearHeapLimitHook,
    AnalysisJob,
    fullGc: () => true,
    writeHeapSnapshot(request) {
      calls.snapshots.push(request)
      const next = outcomes.shift()
      if (!next) throw new Error('fake binding: no outcome queued for writeHeapSnapshot')
      return typeof next === 'function' ? next(request) : { trigger: request.trigger, ...next }
    },
    pruneSnapshots(dir, keep, justWritten) {
      calls.pruned.push([dir, keep, justWritten])
      return []
    },
    releaseFreedMemory() {},
    /** The memory room the snapshot guard would read; `binding.room` sets it (null: none known). */
    room: null,
    memoryRoom() {
      return binding.room
    },
    // The addon resolves with the report object, or rejects with an Error carrying `code`,
    // `file`, `offset` and `errno` (src/napi/analysis.rs).
    analyzeSnapshot: async (file) => {
      if (file.includes('bad')) {
        throw Object.assign(new Error(`leakwatch: ${file}: the file ends`),
          { code: 'ERR_LEAKWATCH_SNAPSHOT_TRUNCATED', file, offset: 12 })
      }
      if (file.includes('cancelled')) {
        throw Object.assign(new Error('leakwatch: analysis cancelled'), { code: 'ERR_LEAKWATCH_ABORTED' })
      }
      return { summary: { file } }
    },
    diffSnapshots: async (files) => ({ files }),
    redactSnapshot: async (input, output) => ({ file: output, input }),
    diffSnapshotsSync: () => ({}),
  }
  return { binding, calls, outcomes }
}

module.exports = { fakeBinding, rawStats, GC_KINDS }
