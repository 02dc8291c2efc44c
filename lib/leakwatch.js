// @ts-check
'use strict'

// The public module, built on a native binding given as a parameter: index.js passes the real
// one, the unit tests a fake. The module itself is an EventEmitter (memwatch's model): the
// first 'stats' or 'leak' listener starts monitoring this isolate with the defaults.

const { EventEmitter } = require('node:events')
const { Watcher, createWatchers } = require('./watcher')
const { DEFAULTS, SNAPSHOT_DEFAULTS } = require('./options')
const { writeSnapshot, defaultDir } = require('./snapshot')
const { writeHeapProfile } = require('./evidence')
const { createCounters } = require('./counters')
const { takeView } = require('./metrics')
const analysis = require('./analysis')
const { withCode } = require('./errors')

/** The binding shape this facade is written against (src/napi/mod.rs BINDING_API_VERSION). */
const BINDING_API_VERSION = 7

/**
 * Builds the public module on `native`. Throws ERR_LEAKWATCH_BINDING_MISMATCH when the
 * binding was built for another version of the facade (a stale build).
 * @param {import('./native').Binding} native
 */
function createLeakwatch(native) {
  const found = native ? native.BINDING_API_VERSION : undefined
  if (found !== BINDING_API_VERSION) {
    throw withCode(Error, 'ERR_LEAKWATCH_BINDING_MISMATCH',
      `leakwatch: the native addon speaks binding API version ${found}, this JavaScript expects ` +
        `${BINDING_API_VERSION}: the addon is a stale build; rebuild it (\`npm rebuild leakwatch\`)`)
  }
  const counters = createCounters()
  const context = { native, counters, reportedToStderr: new Set() }
  const watchers = createWatchers(context)
  const view = () => takeView(watchers.current(), counters.counts)

  const leakwatch = new EventEmitter()

  leakwatch.on('newListener', (event) => {
    if ((event === 'stats' || event === 'leak') && !watchers.current()) {
      watchers.start({}, leakwatch)
    }
  })

  /**
   * A HeapDiff that compares with this facade's binding.
   * @type {new () => InstanceType<typeof analysis.HeapDiff>}
   */
  const HeapDiff = class HeapDiff extends analysis.HeapDiff {
    constructor() {
      // The running watcher's snapshot settings when it has a `snapshot` block.
      const running = watchers.current()
      super(native, (running && running.options.snapshot) || undefined)
    }
  }

  Object.assign(leakwatch, {
    /**
     * Starts monitoring this isolate (idempotent per isolate); returns the Watcher.
     * @param {unknown} [options]
     */
    start: (options) => watchers.start(options, leakwatch),

    /** Stops the running watcher of this isolate, if any. */
    stop: () => {
      const running = watchers.current()
      if (running) running.stop()
    },

    /** The running watcher of this isolate, or null. */
    current: () => watchers.current(),

    /** A full, memory-reducing garbage collection of this isolate (memwatch.gc()). */
    gc: () => {
      if (native.fullGc()) return
      require('node:v8').setFlagsFromString('--expose-gc')
      require('node:vm').runInNewContext('gc')()
    },

    /**
     * A guarded heap snapshot of this isolate (blocks it while writing). `path`: a file, or a
     * directory for a generated name; default: the running watcher's `snapshot.dir`, else
     * `--diagnostic-dir` or the working directory. Resolves with `{ path, reason, bytes,
     * durationMs, peakRss, estimate }`.
     * @param {string} [path]
     */
    writeSnapshot: (path) => {
      const running = watchers.current()
      return writeSnapshot(path, running ? running.snapshots : null, context)
    },

    /**
     * The sampling heap profiler's live allocations as a gzipped pprof file (`profile.proto`).
     * `path`: a file, or a directory for a generated name; default as for writeSnapshot().
     * Resolves with `{ path, bytes, liveBytes, stacks, since }`.
     * @param {string} [path]
     */
    writeHeapProfile: (path) => {
      const running = watchers.current()
      const snapshot = running && running.options.snapshot
      const dir = running && running.snapshots ? running.snapshots.dir : defaultDir()
      return writeHeapProfile(path, running, dir, (snapshot || SNAPSHOT_DEFAULTS).maxFiles)
    },

    /**
     * Registers leakwatch's gauges and counters in a prom-client registry (prom-client is an
     * optional peer dependency). Values are read at scrape time. Returns
     * `{ names, unregister() }`.
     * @param {any} [options]
     */
    prometheus: (options) => require('./prometheus').prometheus(options, view),

    /**
     * Reports the same instruments through OpenTelemetry's global meter provider (or
     * `meterProvider`); @opentelemetry/api is an optional peer dependency. Returns
     * `{ names, shutdown() }`.
     * @param {any} [options]
     */
    openTelemetry: (options) => require('./opentelemetry').openTelemetry(options, view),

    /**
     * Analyses a .heapsnapshot on the threadpool (abortable with `signal`): class summary with
     * DevTools' counts, self and retained sizes, the largest objects, retainer paths.
     * @param {any} file @param {any} [options]
     */
    analyze: (file, options) => analysis.analyze(native, file, options),

    /**
     * Compares snapshots of one process in time order: two (per-class new/deleted/delta, as
     * DevTools' Comparison view, and the new objects by retainer path) or more (also what was
     * allocated between the first two and is still alive in the last, and the objects and
     * classes that grew at every snapshot). `diff(a, b, …more, options?)` or
     * `diff([files], options?)`.
     * @param {...any} args
     */
    diff: (...args) => analysis.diff(native, args),

    /**
     * Writes a copy of a snapshot with every string value replaced by a placeholder of its
     * length class: names, code locations, sizes and the graph kept.
     * @param {any} input @param {any} output @param {any} [options]
     */
    redact: (input, output, options) => analysis.redact(native, input, output, options),

    defaults: DEFAULTS,
    Watcher,
  })
  /** memwatch's HeapDiff: `new HeapDiff()`, later `.end()` → `{ before, after, change }`. */
  Object.defineProperty(leakwatch, 'HeapDiff', { enumerable: true, get: () => HeapDiff })
  return leakwatch
}

module.exports = { createLeakwatch, BINDING_API_VERSION }
