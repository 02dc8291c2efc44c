// @ts-check
'use strict'

const { EventEmitter } = require('node:events')
const v8 = require('node:v8')
const { resolveOptions } = require('./options')
const { withCode } = require('./errors')
const { observeGc } = require('./perf-hooks-source')
const { Attribution, unavailable } = require('./attribution')
const { MallocReadings } = require('./native-memory')
const { writeProfile } = require('./evidence')
const { Snapshots } = require('./snapshot')
const { Diagnoses } = require('./diagnosis')
const { SNAPSHOT_DEFAULTS } = require('./options')
const { METRICS } = require('./names')
const { threadId } = require('node:worker_threads')

/**
 * What a facade shares with its watchers: the native binding, its counters, and the error
 * codes already written to stderr because nobody listened for 'error'.
 * @typedef {{ native: import('./native').Binding, counters: import('./counters').Counters,
 *   reportedToStderr: Set<string> }} FacadeContext
 */

/**
 * Monitors this isolate. Created by `leakwatch.start()`; one per isolate (main thread and
 * each worker) while running.
 */
class Watcher extends EventEmitter {
  /** @type {import('./native').Monitor} */
  #native
  /** @type {(() => void) | null} */
  #stopObserver = null
  /** @type {InstanceType<typeof Attribution> | null} */
  #attribution = null
  /** @type {InstanceType<typeof Snapshots> | null} */
  #snapshots = null
  /** What malloc held, to explain `rss` leaks (null: rss detection off). @type {InstanceType<typeof MallocReadings> | null} */
  #malloc = null
  /** @type {EventEmitter | null} */
  #forward
  /** @type {FacadeContext} */
  #context
  /** The last `arrayBuffers` reading, kept while process.memoryUsage() fails. @type {number | null} */
  #lastArrayBuffers = null
  /** process.memoryUsage() is failing (reported once per failing streak). */
  #usageFailing = false
  /** Polls the sampler's RSS for `snapshot.rssBytes`. @type {NodeJS.Timeout | null} */
  #rssTimer = null
  /** @type {InstanceType<typeof Diagnoses> | null} */
  #diagnoses = null
  /** Leaks reported so far (for their ids). */
  #leakCount = 0
  /** The id of each metric's latest `leak`, for its `leak-stopped`. @type {Record<string, string>} */
  #leakIds = {}

  /**
   * @param {import('./options').Options} options resolved options
   * @param {EventEmitter | null} forward also receives every event (the module itself)
   * @param {FacadeContext} context
   */
  constructor(options, forward, context) {
    super()
    const { native } = context
    this.options = options
    this.#forward = forward
    this.#context = context
    const useV8Hooks = options.gcSource === 'auto'
    try {
      this.#native = new native.NativeWatcher(
        {
          sampleIntervalMs: options.sampleIntervalMs,
          statsIntervalMs: options.statsIntervalMs,
          useV8Hooks,
          referenceHeap: v8.getHeapStatistics(),
          // A metric turned off is absent for the native layer.
          detection: {
            ...options.detection,
            // Validated by lib/options.js against the same three names.
            mode: /** @type {import('../binding').DetectionMode} */ (options.detection.mode),
            confirmMaxPauseRatio: options.detection.confirm ? options.detection.confirm.maxPauseRatio : undefined,
            confirmMinIntervalMs: options.detection.confirm ? options.detection.confirm.minIntervalMs : 0,
            urgency: options.detection.urgency || undefined,
            // The snapshot guard's budget is the process's budget too, unless detection has one.
            memoryLimitBytes: options.detection.memoryLimitBytes ??
              (options.snapshot ? options.snapshot.memoryLimitBytes : null) ?? undefined,
            heap: options.detection.heap || undefined,
            external: options.detection.external || undefined,
            rss: options.detection.rss || undefined,
          },
          // The profiler runs only while the detector sees early growth.
          samplingOnGrowth: Boolean(options.attribution && options.attribution.when === 'growth' &&
            options.detection.mode !== 'off'),
        },
        (args) => this.#dispatch(args[0], args[1]))
    } catch (err) {
      // The addon's errors carry their ERR_LEAKWATCH_* code; napi-rs's own (a bad argument)
      // do not.
      if (!String(err.code).startsWith('ERR_LEAKWATCH_')) err.code = 'ERR_LEAKWATCH_NATIVE'
      throw err
    }
    if (options.attribution && options.detection.mode !== 'off') {
      this.#attribution = new Attribution(options.attribution, options.detection.windowMs)
    }
    // A diagnosis dumps with the `snapshot` block's settings, or the defaults with no trigger.
    const snapshotOptions = options.snapshot || (options.diagnose && options.detection.mode !== 'off'
      ? { ...SNAPSHOT_DEFAULTS, onLeak: false, nearHeapLimit: false, signal: null, heapUsedPercent: null, rssBytes: null }
      : null)
    if (snapshotOptions) {
      this.#snapshots = new Snapshots(snapshotOptions, context,
        (event, payload) => this.#emitSafely(event, payload), (err) => this.#emitError(err),
        () => {
          if (this.#attribution && this.#attribution.afterSnapshot()) native.releaseFreedMemory()
        },
        this.#attribution ? () => this.readHeapProfile() : undefined)
      if (snapshotOptions.rssBytes != null) this.#watchRss(options.sampleIntervalMs)
      if (options.diagnose && options.detection.mode !== 'off') {
        this.#diagnoses = new Diagnoses(options.diagnose, {
          snapshots: this.#snapshots,
          attribution: this.#attribution,
          native,
          level: (metric) => this.#level(metric),
          emit: (event, payload) => this.#emitSafely(event, payload),
          pollMs: options.sampleIntervalMs,
        })
      }
    }
    if (options.detection.rss && options.detection.mode !== 'off') this.#malloc = new MallocReadings(native)
    if (this.#native.source === 'perf_hooks') {
      this.#stopObserver = observeGc(this.#native)
    }
    const failure = this.#native.hookFailure
    if (failure) {
      // Asynchronous, so a listener attached right after start() receives it.
      process.nextTick(() => this.#emitError(withCode(Error, failure.code, `leakwatch: ${failure.message}`)))
    }
  }

  /** 'v8' (GC callbacks) or 'perf_hooks' (fallback). */
  get source() {
    return this.#native.source
  }

  /** True until stop(). */
  get running() {
    return this.#native.running
  }

  /** The latest stats (same shape as the `stats` event); after stop(), the final ones. */
  stats() {
    const raw = this.#native.stats()
    return raw ? this.#decorateStats(raw) : null
  }

  /**
   * Removes the GC callbacks and joins the background thread. Idempotent. Never throws: each
   * step runs even when an earlier one failed (a failure goes to the `error` event), so the
   * signal listener and the near-heap-limit hook are always removed.
   */
  stop() {
    const steps = [
      () => {
        if (this.#rssTimer) clearInterval(this.#rssTimer)
        this.#rssTimer = null
      },
      () => {
        if (this.#stopObserver) this.#stopObserver()
        this.#stopObserver = null
      },
      () => {
        const wasRunning = this.#native.running
        this.#native.stop()
        if (wasRunning) this.#context.counters.retire(this.stats())
      },
      () => this.#diagnoses && this.#diagnoses.stop(),
      () => this.#attribution && this.#attribution.stop(),
      () => this.#snapshots && this.#snapshots.stop(),
    ]
    for (const step of steps) {
      try {
        step()
      } catch (err) {
        this.#emitError(internalError('stop()', err))
      }
    }
    return this
  }

  /**
   * `snapshot.rssBytes` on the native sampler's latest reading, every `sampleIntervalMs`:
   * native memory (Buffers, addons, fragmentation) can pass the threshold with no full GC and
   * so no `stats` event. The timer never keeps the process alive.
   * @param {number} intervalMs
   */
  #watchRss(intervalMs) {
    this.#rssTimer = setInterval(() => {
      try {
        const latest = this.#native.stats()
        const snapshots = this.#snapshots
        if (latest && snapshots) snapshots.onRss(latest.rss ?? process.memoryUsage.rss())
      } catch (err) {
        this.#emitError(internalError('the RSS threshold check', err))
      }
    }, intervalMs)
    this.#rssTimer.unref()
  }

  /**
   * Called by the native dispatcher on this isolate's thread. Nothing may throw from here: an
   * exception would unwind into the threadsafe-function callback and end the process.
   * @param {string} event @param {any} payload the binding's, decorated here
   */
  #dispatch(event, payload) {
    try {
      // Events still queued when stop() ran are dropped: nothing is emitted after stop().
      if (!this.#native.running) return
      // Early growth started or ended (never emitted): the profiler runs on this thread.
      if (event === 'sampling-start' || event === 'sampling-stop') {
        if (this.#attribution) {
          if (event === 'sampling-start') this.#attribution.resume()
          else this.#attribution.pause()
        }
        return
      }
      if (event === 'stats') payload = this.#decorateStats(payload)
      else if (event === 'leak' || event === 'leak-stopped') payload = decorateLeak(payload)
      if (event === 'leak') {
        payload.id = `leak-${process.pid}-${threadId}-${++this.#leakCount}`
        this.#leakIds[payload.metric] = payload.id
        this.#context.counters.leak(payload.metric)
        this.#attribute(payload)
        if (payload.metric === 'rss' && this.#malloc) this.#malloc.explain(payload)
        if (this.#diagnoses) payload.diagnosis = this.#diagnoses.onLeak(payload)
      } else if (event === 'leak-stopped') {
        payload.id = this.#leakIds[payload.metric] ?? null
        if (this.#diagnoses) this.#diagnoses.onLeakStopped(payload)
      }
      this.#emitSafely(event, payload)
      if (this.#snapshots) {
        // With `diagnose`, the diagnosis takes the leak's dumps.
        if (event === 'leak' && !this.#diagnoses) this.#snapshots.onLeak()
        else if (event === 'stats') this.#snapshots.onStats(payload)
      }
    } catch (err) {
      try {
        this.#emitError(internalError(`the ${event} event`, err))
      } catch {
        // Even reporting failed (stderr closed): drop it rather than end the process.
      }
    }
  }

  /**
   * Adds what only JavaScript can read. `process.memoryUsage()` needs a file descriptor on
   * Linux and throws EMFILE when the process has run out of them: the stats still go out,
   * with the last `arrayBuffers` reading (null before the first), and one `error` event
   * (ERR_LEAKWATCH_MEMORY_USAGE) per failing streak.
   * @param {any} raw the binding's stats payload
   */
  #decorateStats(raw) {
    let usage = null
    try {
      usage = process.memoryUsage()
      this.#usageFailing = false
    } catch (err) {
      if (!this.#usageFailing) {
        this.#usageFailing = true
        const why = /** @type {any} */ (err).code || /** @type {any} */ (err).message
        const failure = withCode(Error, 'ERR_LEAKWATCH_MEMORY_USAGE',
          `leakwatch: process.memoryUsage() failed (${why}); stats keep the last arrayBuffers reading`)
        failure.cause = err
        // After this event's listeners: an error listener sees a consistent watcher.
        process.nextTick(() => this.#emitError(failure))
      }
    }
    if (usage) this.#lastArrayBuffers = usage.arrayBuffers
    raw.heap.arrayBuffers = this.#lastArrayBuffers
    if (raw.rss == null) raw.rss = usage ? usage.rss : null
    // The native layer leaves out metrics without a trend; the contract says null.
    for (const metric of METRICS) raw.trend[metric] ??= null
    raw.attribution = this.#attribution ? this.#attribution.activity : 'off'
    raw.time = new Date(raw.time)
    return raw
  }

  /**
   * A metric's level after the latest full GC (the sampler's latest RSS for `rss`), for the
   * diagnosis's wait for growth; null before the first reading.
   * @param {string} metric
   */
  #level(metric) {
    const latest = this.#native.stats()
    if (!latest) return null
    if (metric === 'heap') return latest.heap.used
    if (metric === 'external') return latest.heap.external
    return latest.rss ?? null
  }

  /** The snapshot triggers of this watcher (null without a `snapshot` block). */
  get snapshots() {
    return this.#snapshots
  }

  // Allocation stacks of memory allocated during the window and still alive.
  /** @param {any} leak */
  #attribute(leak) {
    if (!this.#attribution) {
      leak.attribution = { status: 'off' }
      return
    }
    const { sites, ...state } = this.#attribution.sites(leak.start)
    leak.topAllocations = sites
    leak.attribution = state
    // The same samples as pprof, beside the snapshots (leakwatch writes files only where a
    // `snapshot` block or `diagnose` says), pruned to the same maxFiles.
    const read = this.#attribution.takeLastRead()
    if (read && this.#snapshots) {
      try {
        leak.profile = writeProfile({ dir: this.#snapshots.dir }, 'leak', read, this.#snapshots.maxFiles).path
      } catch (err) {
        this.#emitError(/** @type {any} */ (err))
      }
    }
  }

  /**
   * Every live sample of the sampling heap profiler now (for `writeHeapProfile()` and refused
   * dumps). Throws ERR_LEAKWATCH_PROFILE_UNAVAILABLE (with `reason`) when there is none.
   */
  readHeapProfile() {
    if (!this.#attribution) throw unavailable('off')
    return this.#attribution.read()
  }

  // A throwing listener behaves as in any EventEmitter used from a timer: the exception
  // reaches 'uncaughtException'. It never unwinds into the native layer.
  /** @param {string} event @param {unknown} payload */
  #emitSafely(event, payload) {
    for (const target of [this, this.#forward]) {
      if (!target || target.listenerCount(event) === 0) continue
      try {
        target.emit(event, payload)
      } catch (err) {
        process.nextTick(() => { throw err })
      }
    }
  }

  /** @param {Error & { code: string }} err */
  #emitError(err) {
    this.#context.counters.error(err.code)
    const listened = this.listenerCount('error') > 0 ||
      (this.#forward && this.#forward.listenerCount('error') > 0)
    if (listened) {
      this.#emitSafely('error', err)
    } else if (!this.#context.reportedToStderr.has(err.code)) {
      this.#context.reportedToStderr.add(err.code)
      process.stderr.write(`${err.message} (${err.code})\n`)
    }
  }
}

/** @param {any} raw the binding's leak payload */
function decorateLeak(raw) {
  raw.start = new Date(raw.start)
  raw.end = new Date(raw.end)
  return raw
}

/**
 * A fault inside leakwatch's own JavaScript, for the `error` event.
 * @param {string} where @param {unknown} cause
 */
function internalError(where, cause) {
  const message = cause instanceof Error ? cause.message : String(cause)
  const err = withCode(Error, 'ERR_LEAKWATCH_INTERNAL', `leakwatch: ${where} failed: ${message}`)
  err.cause = cause
  return err
}

/**
 * The watchers of one facade: at most one runs at a time (one facade per isolate; each worker
 * thread loads its own).
 * @param {FacadeContext} context
 */
function createWatchers(context) {
  /** @type {Watcher | null} */
  let running = null
  return {
    /**
     * Starts monitoring this isolate, or returns the watcher already running here (its
     * options stay as they were; the new ones are still validated).
     * @param {unknown} options
     * @param {EventEmitter} forward
     */
    start(options, forward) {
      const resolved = resolveOptions(options)
      if (running && running.running) return running
      running = new Watcher(resolved, forward, context)
      return running
    },
    /** The running watcher, or null. */
    current() {
      return running && running.running ? running : null
    },
  }
}

module.exports = { Watcher, createWatchers }
