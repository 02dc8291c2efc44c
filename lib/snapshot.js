// @ts-check
'use strict'

// Heap snapshots: the guarded dump (native, lib/../src/snapshot), its triggers and events.
//
// Every dump, whatever asked for it, goes through the same native path: estimate the memory
// and disk it needs, compare with the room the process has (cgroup, available memory,
// `memoryLimitBytes`, free disk less `minFreeDiskBytes`), skip with `snapshot-skipped` if it
// does not fit, skip it too if it is expected to block the isolate longer than `maxPauseMs`,
// otherwise write under a temporary name, abort if RSS reaches the ceiling or the dump runs
// past the pause budget, and rename when complete. The dump runs on this isolate's thread and
// blocks it. On Node 20 the line ends of every script are computed first (lib/line-ends.js).

const fs = require('node:fs')
const path = require('node:path')
const v8 = require('node:v8')
const { threadId, isMainThread } = require('node:worker_threads')
const { withCode, invalidArgument } = require('./errors')
const { SNAPSHOT_DEFAULTS } = require('./options')
const { TRIGGER, AUTOMATIC_TRIGGERS } = require('./names')
const { wholeMiB } = require('./bytes')
const { prepareLineEnds } = require('./line-ends')
const { writeProfile, writeStatistics } = require('./evidence')

/** Node's diagnostic directory: `--diagnostic-dir`, else the working directory. */
function defaultDir() {
  const args = [...process.execArgv, ...(process.env.NODE_OPTIONS || '').split(/\s+/)]
  for (let i = 0; i < args.length; i++) {
    const arg = args[i]
    if (arg.startsWith('--diagnostic-dir=')) return path.resolve(arg.slice('--diagnostic-dir='.length))
    if (arg === '--diagnostic-dir' && args[i + 1]) return path.resolve(args[i + 1])
  }
  return process.cwd()
}

/**
 * @typedef {{ dir?: string, file?: string }} Where a directory (generated name) or a file
 * @typedef {{ reason: string, trigger: string, needBytes?: any, haveBytes?: any,
 *   bound?: string, expectedMs?: number, budgetMs?: number, elapsedMs?: number,
 *   aborted?: boolean, message?: string, evidence?: { profile?: string, statistics?: string } }} Skip
 *   the `snapshot-skipped` payload
 */

/**
 * @param {import('./native').Binding} native
 * @param {Where & { trigger: import('../binding').SnapshotTrigger, options: import('./options').SnapshotOptions }} request
 */
function runDump(native, { dir, file, trigger, options }) {
  const heap = v8.getHeapStatistics()
  return native.writeHeapSnapshot({
    dir: dir || undefined,
    path: file || undefined,
    trigger,
    threadId,
    heapUsed: heap.used_heap_size,
    memoryLimitBytes: options.memoryLimitBytes ?? undefined,
    minFreeDiskBytes: options.minFreeDiskBytes,
    maxPauseMs: options.maxPauseMs ?? undefined,
  }, lineEnds)
}

// Called by the binding right before a dump that goes ahead, inside leakwatch's pause (so
// leak detection leaves its time out too). Never throws.
function lineEnds() {
  prepareLineEnds()
}

/**
 * The public `snapshot` payload and `writeSnapshot()` result.
 * @param {import('./native').OutcomeFields} outcome
 */
function infoOf(outcome) {
  return {
    path: outcome.path,
    reason: outcome.trigger,
    bytes: outcome.bytes,
    durationMs: outcome.durationMs,
    peakRss: outcome.peakRss,
    estimate: {
      memoryBytes: outcome.estimatedMemoryBytes,
      fileBytes: outcome.estimatedFileBytes,
      pauseMs: outcome.estimatedPauseMs,
    },
  }
}

/**
 * The public `snapshot-skipped` payload.
 * @param {import('./native').OutcomeFields} outcome
 */
function skipOf(outcome) {
  /** @type {Skip} */
  const skip = { reason: outcome.reason, trigger: outcome.trigger }
  if (outcome.needBytes !== undefined) skip.needBytes = outcome.needBytes
  if (outcome.haveBytes !== undefined) skip.haveBytes = outcome.haveBytes
  if (outcome.bound !== undefined) skip.bound = outcome.bound
  if (outcome.expectedMs !== undefined) skip.expectedMs = Math.round(outcome.expectedMs)
  if (outcome.budgetMs !== undefined) skip.budgetMs = Math.round(outcome.budgetMs)
  if (outcome.aborted && outcome.reason === 'pause' && outcome.durationMs !== undefined) {
    skip.elapsedMs = Math.round(outcome.durationMs)
  }
  if (outcome.aborted) skip.aborted = true
  skip.message = describeSkip(skip)
  return skip
}

/** @param {Skip} skip */
function describeSkip(skip) {
  if (skip.reason === 'pause') {
    return skip.aborted
      ? `leakwatch: heap snapshot (${skip.trigger}) abandoned after ${skip.elapsedMs} ms: past the pause budget ` +
        `of ${skip.budgetMs} ms (maxPauseMs; it was expected to take ${skip.expectedMs} ms); no file was left`
      : `leakwatch: heap snapshot (${skip.trigger}) skipped: expected to block the isolate ` +
        `${skip.expectedMs} ms, over the pause budget of ${skip.budgetMs} ms (maxPauseMs)`
  }
  const mb = wholeMiB
  const what = !skip.aborted ? 'skipped'
    : skip.bound === 'ceiling' ? 'abandoned as RSS approached the limit'
      : skip.reason === 'disk' ? 'abandoned before writing (the file\'s size redone from the graph\'s counts)'
        : 'abandoned before the graph was built (the estimate redone with the heap\'s object count)'
  const need = skip.reason === 'disk'
    ? `${mb(skip.needBytes)} of free disk (the file and minFreeDiskBytes)`
    : `${mb(skip.needBytes)} of memory`
  return `leakwatch: heap snapshot (${skip.trigger}) ${what}: needs ${need}, ${skip.bound} leaves ${mb(skip.haveBytes)}`
}

/** @param {import('./native').OutcomeFields} outcome */
function errorOf(outcome) {
  const err = withCode(Error, outcome.code || 'ERR_LEAKWATCH_SNAPSHOT_INTERNAL', `leakwatch: ${outcome.message}`)
  if (outcome.errno) err.errno = outcome.errno
  if (outcome.syscall) err.syscall = outcome.syscall
  err.trigger = outcome.trigger
  return err
}

/** Triggers that share `cooldownMs`. */
const AUTOMATIC = new Set(AUTOMATIC_TRIGGERS)

/**
 * Where `writeSnapshot(p)` writes: a directory (generated name) or exactly a file.
 * @param {unknown} p @param {string} dir @returns {Where}
 */
function target(p, dir) {
  if (p === undefined) return { dir }
  if (typeof p !== 'string' || p.length === 0) {
    throw invalidArgument('writeSnapshot(path)', 'a non-empty string or undefined', p)
  }
  const resolved = path.resolve(p)
  let isDir = p.endsWith('/') || p.endsWith(path.sep)
  try {
    isDir = isDir || fs.statSync(resolved).isDirectory()
  } catch {}
  return isDir ? { dir: resolved } : { file: resolved }
}

/**
 * One watcher's snapshot triggers. `emit(event, payload)` and `emitError(err)` deliver to the
 * watcher's listeners.
 */
class Snapshots {
  /** @type {import('./options').SnapshotOptions & { dir: string }} */
  #options
  /** @type {import('./native').Binding} */
  #native
  /** @type {import('./counters').Counters} */
  #counters
  /** @type {(event: string, payload: object) => void} */
  #emit
  /** @type {(err: Error & { code: string }) => void} */
  #emitError
  #lastAuto = -Infinity
  /** @type {Set<string>} */
  #cooldownNoted = new Set()
  /** @type {import('../binding').NearHeapLimitHook | null} */
  #hook = null
  /** @type {(() => void) | null} */
  #onSignal = null
  #pending = false
  /** @type {() => void} */
  #afterDump
  /** @type {(() => import('./attribution').Read) | undefined} */
  #readProfile

  /**
   * @param {import('./options').SnapshotOptions} options
   * @param {{ native: import('./native').Binding, counters: import('./counters').Counters }} context
   * @param {(event: string, payload: object) => void} emit
   * @param {(err: Error & { code: string }) => void} emitError
   * @param {() => void} [afterDump] called after every dump that started (never throws)
   * @param {() => import('./attribution').Read} [readProfile] the live allocation profile, for
   *   the evidence a refused dump leaves (throws when there is none)
   */
  constructor(options, { native, counters }, emit, emitError, afterDump = () => {}, readProfile = undefined) {
    this.#afterDump = afterDump
    this.#readProfile = readProfile
    this.#options = { ...options, dir: options.dir ? path.resolve(options.dir) : defaultDir() }
    this.#native = native
    this.#counters = counters
    this.#emit = emit
    this.#emitError = emitError
    if (options.nearHeapLimit) this.#armNearHeapLimit()
    if (options.signal && isMainThread) {
      this.#onSignal = () => this.#defer(TRIGGER.signal)
      process.on(options.signal, this.#onSignal)
    }
  }

  /** Called for every `leak` event. */
  onLeak() {
    if (this.#options.onLeak) this.#auto(TRIGGER.leak)
  }

  /**
   * Called for every `stats` event.
   * @param {{ heap: { used: number, limit: number }, rss: number }} stats
   */
  onStats(stats) {
    const { heapUsedPercent } = this.#options
    if (heapUsedPercent != null && stats.heap.limit > 0 &&
      (stats.heap.used / stats.heap.limit) * 100 >= heapUsedPercent) {
      this.#auto(TRIGGER.heapUsed)
    } else {
      this.onRss(stats.rss)
    }
  }

  /**
   * Called with every RSS reading: from `stats` events, and from the native sampler's latest
   * reading every `sampleIntervalMs` — native memory can grow with no full GC, so no `stats`.
   * @param {number | null} rss
   */
  onRss(rss) {
    const { rssBytes } = this.#options
    if (rssBytes != null && rss != null && rss >= rssBytes) this.#auto(TRIGGER.rss)
  }

  /**
   * A dump on request: guarded; settles with the info or the skip / failure.
   * @param {unknown} p
   */
  write(p) {
    const where = target(p, this.#options.dir)
    return this.#run(TRIGGER.api, where)
  }

  /** What is left of the automatic dumps' cooldown, ms (0: a dump may run now). */
  cooldownLeft() {
    return Math.max(0, this.#options.cooldownMs - (Date.now() - this.#lastAuto))
  }

  /** leakwatch files of each kind kept in `dir` (`maxFiles`, resolved). */
  get maxFiles() {
    return this.#options.maxFiles
  }

  /** The operator's memory total for this process (`memoryLimitBytes`), or null. */
  get memoryLimitBytes() {
    return this.#options.memoryLimitBytes
  }

  /**
   * A diagnosis dump (trigger `leak`) to exactly `file`: the guard, the pause budget and the
   * events of every automatic dump, and it starts the cooldown; the caller waits for the
   * cooldown first (cooldownLeft()). Settles like write().
   * @param {string} file
   */
  dumpTo(file) {
    return this.#run(TRIGGER.leak, { file })
  }

  stop() {
    if (this.#hook) {
      this.#hook.disarm()
      this.#hook = null
    }
    if (this.#onSignal) {
      process.removeListener(/** @type {string} */ (this.#options.signal), this.#onSignal)
      this.#onSignal = null
    }
  }

  #armNearHeapLimit() {
    const native = this.#native
    // The near-heap-limit dump runs inside a V8 callback, where no JavaScript can run: the
    // line ends are computed now, for the scripts loaded so far.
    prepareLineEnds()
    try {
      this.#hook = new native.NearHeapLimitHook({
        dir: this.#options.dir,
        threadId,
        memoryLimitBytes: this.#options.memoryLimitBytes ?? undefined,
        minFreeDiskBytes: this.#options.minFreeDiskBytes,
        maxFiles: this.#options.maxFiles,
        maxPauseMs: this.#options.maxPauseMs ?? undefined,
      }, (outcome) => this.#report(outcome))
    } catch (err) {
      const code = String(err.code).startsWith('ERR_LEAKWATCH_') ? err.code : 'ERR_LEAKWATCH_SNAPSHOT_UNAVAILABLE'
      process.nextTick(() => this.#emitError(withCode(Error, code,
        `leakwatch: the near-heap-limit snapshot is unavailable: ${err.message}`)))
    }
  }

  // Automatic triggers share the cooldown; the first skip per cooldown period is reported.
  /** @param {import('../binding').SnapshotTrigger} trigger */
  #auto(trigger) {
    const since = Date.now() - this.#lastAuto
    if (since < this.#options.cooldownMs) {
      if (!this.#cooldownNoted.has(trigger)) {
        this.#cooldownNoted.add(trigger)
        this.#counters.snapshotSkipped({ reason: 'cooldown' })
        this.#emit('snapshot-skipped', {
          reason: 'cooldown', trigger, retryInMs: this.#options.cooldownMs - since,
          message: `leakwatch: heap snapshot (${trigger}) skipped: cooldown`,
        })
      }
      return
    }
    this.#defer(trigger)
  }

  // After the current event's listeners ran: the dump blocks this thread.
  /** @param {import('../binding').SnapshotTrigger} trigger */
  #defer(trigger) {
    if (this.#pending) return
    this.#pending = true
    setImmediate(() => {
      this.#pending = false
      this.#run(trigger, { dir: this.#options.dir }).catch(() => {})
    })
  }

  /** @param {import('../binding').SnapshotTrigger} trigger @param {Where} where */
  #run(trigger, where) {
    /** @type {import('./native').SnapshotOutcome} */
    let outcome
    try {
      outcome = runDump(this.#native, { ...where, trigger, options: this.#options })
    } catch (err) {
      outcome = { status: 'failed', trigger, code: 'ERR_LEAKWATCH_SNAPSHOT_INTERNAL', message: err.message }
    }
    const settled = this.#report(outcome, where)
    return outcome.status === 'written' ? Promise.resolve(settled) : Promise.reject(settled)
  }

  // Emits what happened; returns the info (written) or an Error (skipped, failed).
  /** @param {import('./native').OutcomeFields} outcome @param {Where} where */
  #report(outcome, where = { dir: this.#options.dir }) {
    const auto = outcome.trigger !== TRIGGER.api
    if (outcome.status === 'written' || outcome.status === 'failed' || outcome.aborted) {
      this.#afterDump()
    }
    // Every automatic attempt starts the cooldown, whatever its outcome: one event per period,
    // not one per GC while a threshold stays crossed and the disk stays full.
    if (AUTOMATIC.has(outcome.trigger)) {
      this.#lastAuto = Date.now()
      this.#cooldownNoted.clear()
    }
    if (outcome.status === 'written') {
      if (where.dir && outcome.trigger !== TRIGGER.nearHeapLimit) this.#prune(where.dir, outcome.path)
      const info = infoOf(outcome)
      this.#counters.snapshotWritten(info)
      this.#emit('snapshot', info)
      return info
    }
    if (outcome.status === 'skipped') {
      const skip = skipOf(outcome)
      const evidence = this.#leaveEvidence(outcome, where)
      if (evidence) {
        skip.evidence = evidence
        skip.message += `; left ${Object.values(evidence).join(' and ')} instead`
      }
      this.#counters.snapshotSkipped(skip)
      this.#emit('snapshot-skipped', skip)
      return Object.assign(withCode(Error, 'ERR_LEAKWATCH_SNAPSHOT_SKIPPED', /** @type {string} */ (skip.message)), skip)
    }
    const err = errorOf(outcome)
    if (auto) this.#emitError(err)
    else this.#counters.error(err.code)
    return err
  }

  /**
   * What fits when a dump does not: the sampling allocation profile (pprof) when attribution
   * has one, and the heap statistics (the near-heap-limit hook wrote those natively already).
   * Beside where the snapshot would have gone, with its trigger in the names.
   * @param {import('./native').OutcomeFields} outcome @param {Where} where
   */
  #leaveEvidence(outcome, where) {
    const dir = where.dir || path.dirname(/** @type {string} */ (where.file))
    /** @type {{ profile?: string, statistics?: string }} */
    const evidence = {}
    // Near the heap limit, reading and encoding a profile would allocate on an almost full
    // heap: the statistics alone (written natively).
    if (this.#readProfile && outcome.trigger !== TRIGGER.nearHeapLimit) {
      let read = null
      try {
        read = this.#readProfile()
      } catch {
        // No profile (attribution off, idle or busy): the statistics alone.
      }
      if (read) {
        try {
          evidence.profile = writeProfile({ dir }, outcome.trigger, read, this.#options.maxFiles).path
        } catch (err) {
          this.#emitError(err)
        }
      }
    }
    if (outcome.statistics) {
      evidence.statistics = outcome.statistics
    } else {
      try {
        evidence.statistics = writeStatistics({ dir }, outcome.trigger, this.#native, this.#options.maxFiles)
      } catch (err) {
        this.#emitError(err)
      }
    }
    return Object.keys(evidence).length ? evidence : null
  }

  /** The directory of automatic dumps (resolved). */
  get dir() {
    return this.#options.dir
  }

  /** @param {string} dir @param {string} [justWritten] never removed */
  #prune(dir, justWritten) {
    const native = this.#native
    try {
      native.pruneSnapshots(dir, this.#options.maxFiles, justWritten)
    } catch (err) {
      this.#emitError(withCode(Error, 'ERR_LEAKWATCH_SNAPSHOT_WRITE', `leakwatch: ${err.message}`))
    }
  }
}

/**
 * `leakwatch.writeSnapshot(path?)`: with the running watcher's snapshot settings when it has
 * a `snapshot` block, else the defaults (directory: `--diagnostic-dir` or the working
 * directory). Resolves with `{ path, reason: 'api', bytes, durationMs, peakRss, estimate }`;
 * rejects with `ERR_LEAKWATCH_SNAPSHOT_SKIPPED` (and `reason`, `needBytes`, `haveBytes`, or
 * `expectedMs`, `budgetMs`) when the guard says it does not fit, or with the write error.
 */
/**
 * @param {unknown} p
 * @param {Snapshots | null} snapshots the running watcher's, if it has a `snapshot` block
 * @param {{ native: import('./native').Binding, counters: import('./counters').Counters }} context
 */
async function writeSnapshot(p, snapshots, context) {
  return (snapshots || new Snapshots(SNAPSHOT_DEFAULTS, context, () => {}, () => {})).write(p)
}

/**
 * A guarded dump to exactly `file`, synchronously (for `HeapDiff`): the same guard, pause
 * budget, pause clock and file rules as every leakwatch dump, but no events and no counts.
 * Throws ERR_LEAKWATCH_SNAPSHOT_SKIPPED (with the skip's fields) or the write error.
 * @param {import('./native').Binding} native
 * @param {string} file
 * @param {import('./options').SnapshotOptions} options
 */
function dumpSync(native, file, options) {
  const outcome = runDump(native, { file, trigger: TRIGGER.api, options })
  if (outcome.status === 'written') return
  if (outcome.status === 'skipped') {
    const skip = skipOf(outcome)
    throw Object.assign(withCode(Error, 'ERR_LEAKWATCH_SNAPSHOT_SKIPPED', /** @type {string} */ (skip.message)), skip)
  }
  throw errorOf(outcome)
}

module.exports = { Snapshots, writeSnapshot, dumpSync, defaultDir }
