'use strict'

// The public face of leakwatch. The module itself is an EventEmitter (memwatch's model): the
// first 'stats' or 'leak' listener starts monitoring this isolate with the defaults.

const { EventEmitter } = require('node:events')
const native = require('./lib/native')
const watcher = require('./lib/watcher')
const { DEFAULTS } = require('./lib/options')
const snapshot = require('./lib/snapshot')

const leakwatch = new EventEmitter()

leakwatch.on('newListener', (event) => {
  if ((event === 'stats' || event === 'leak') && !watcher.current()) {
    watcher.start({}, leakwatch)
  }
})

/** Starts monitoring this isolate (idempotent per isolate); returns the Watcher. */
leakwatch.start = (options) => watcher.start(options, leakwatch)

/** Stops the running watcher of this isolate, if any. */
leakwatch.stop = () => {
  const running = watcher.current()
  if (running) running.stop()
}

/** The running watcher of this isolate, or null. */
leakwatch.current = () => watcher.current()

/** A full, memory-reducing garbage collection of this isolate (memwatch.gc()). */
leakwatch.gc = () => {
  if (native.fullGc()) return
  require('node:v8').setFlagsFromString('--expose-gc')
  require('node:vm').runInNewContext('gc')()
}

/**
 * A guarded heap snapshot of this isolate (blocks it while writing). `path`: a file, or a
 * directory for a generated name; default: the running watcher's `snapshot.dir`, else
 * `--diagnostic-dir` or the working directory. Resolves with `{ path, reason, bytes,
 * durationMs, peakRss, estimate }`.
 */
leakwatch.writeSnapshot = (path) => {
  const running = watcher.current()
  return snapshot.writeSnapshot(path, running ? running.snapshots : null)
}

/**
 * Registers leakwatch's gauges and counters in a prom-client registry (prom-client is an
 * optional peer dependency). Values are read at scrape time. Returns `{ names, unregister() }`.
 */
leakwatch.prometheus = (options) => require('./lib/prometheus').prometheus(options)

/**
 * Reports the same instruments through OpenTelemetry's global meter provider (or
 * `meterProvider`); @opentelemetry/api is an optional peer dependency. Returns
 * `{ names, shutdown() }`.
 */
leakwatch.openTelemetry = (options) => require('./lib/opentelemetry').openTelemetry(options)

/**
 * Analyses a .heapsnapshot on the threadpool (abortable with `signal`): class summary with
 * DevTools' counts, self and retained sizes, the largest objects, retainer paths.
 */
leakwatch.analyze = (file, options) => require('./lib/analysis').analyze(file, options)

/**
 * Compares two snapshots of one process (per-class new/deleted/delta, as DevTools'
 * Comparison view) or three (what was allocated between the first two and is still alive in
 * the third, grouped by retainer path). `diff(a, b, options?)` or `diff(a, b, c, options?)`.
 */
leakwatch.diff = (a, b, c, options) => require('./lib/analysis').diff(a, b, c, options)

/** memwatch's HeapDiff: `new HeapDiff()`, later `.end()` → `{ before, after, change }`. */
Object.defineProperty(leakwatch, 'HeapDiff', {
  enumerable: true,
  get: () => require('./lib/analysis').HeapDiff,
})

leakwatch.defaults = DEFAULTS
leakwatch.Watcher = watcher.Watcher

module.exports = leakwatch
