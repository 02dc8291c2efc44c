// @ts-check
'use strict'

// Snapshot analysis: analyze(), diff() and redact() run the Rust analyser on the libuv
// threadpool and are abortable; HeapDiff keeps memwatch's synchronous shape. The native side resolves with
// the report objects and rejects with Errors carrying a stable code (and file, offset, errno).

const fs = require('node:fs')
const os = require('node:os')
const path = require('node:path')
const { fileURLToPath } = require('node:url')
const { withCode, invalidArgument, checkCallOptions } = require('./errors')
const { memwatchSize: humanSize } = require('./bytes')
const { dumpSync } = require('./snapshot')
const { SNAPSHOT_DEFAULTS } = require('./options')

const ALL = 0xFFFFFFFF
const LIMITS = ['classes', 'paths', 'largest', 'groups']
const ANALYZE_OPTIONS = ['signal', 'onProgress', 'classes', 'paths', 'largest']
const DIFF_OPTIONS = ['signal', 'onProgress', 'classes', 'groups']
const REDACT_OPTIONS = ['signal', 'onProgress']
/** Most snapshots one diff takes (crates/analysis MAX_DIFF_SNAPSHOTS). */
const MAX_DIFF_SNAPSHOTS = 64
/** How diff() names its file arguments in errors, by count. */
const DIFF_NAMES = { 2: ['before', 'after'], 3: ['first', 'second', 'third'] }

/**
 * @typedef {{ signal?: AbortSignal, onProgress?: (progress: object) => void } & Record<string, unknown>} CallOptions
 */

/** @param {string} name @param {unknown} file @returns {string} */
function toPath(name, file) {
  if (typeof file === 'string' && file.length > 0) return file
  if (file instanceof URL && file.protocol === 'file:') return fileURLToPath(file)
  if (Buffer.isBuffer(file) && file.length > 0) return file.toString()
  throw invalidArgument(name, 'a non-empty path (string, Buffer or file: URL)', file)
}

/** @param {string} fn @param {Record<string, unknown>} options */
function limits(fn, options) {
  /** @type {Record<string, number>} */
  const out = {}
  for (const key of LIMITS) {
    const value = options[key]
    if (value === undefined) continue
    if (value === Infinity) {
      out[key] = ALL
    } else if (typeof value !== 'number' || !Number.isInteger(value) || value < 0 || value >= ALL) {
      throw withCode(RangeError, 'ERR_LEAKWATCH_OPTION_OUT_OF_RANGE',
        `leakwatch: option "${key}" of ${fn}() must be a non-negative integer or Infinity; received ${String(value)}`)
    } else {
      out[key] = value
    }
  }
  return out
}

/** @param {string} fn @param {any} options @param {string[]} known @returns {CallOptions} */
function checkOptions(fn, options, known) {
  if (options === undefined) return {}
  checkCallOptions(fn, options, known)
  const { signal, onProgress } = options
  if (signal !== undefined && !(signal instanceof AbortSignal)) {
    throw invalidArgument(`${fn}() option "signal"`, 'an AbortSignal', signal)
  }
  if (onProgress !== undefined && typeof onProgress !== 'function') {
    throw invalidArgument(`${fn}() option "onProgress"`, 'a function', onProgress)
  }
  return options
}

/** @param {AbortSignal} [signal] */
function abortError(signal) {
  const err = withCode(Error, 'ERR_LEAKWATCH_ABORTED', 'leakwatch: the analysis was aborted')
  err.name = 'AbortError'
  if (signal && signal.reason !== undefined) err.cause = signal.reason
  return err
}

/**
 * Progress as `{ phase, files, bytesRead, bytesTotal }`: polled every 100 ms while a job
 * runs, and once when it ends.
 */
/**
 * @param {import('../binding').AnalysisJob} job
 * @param {((progress: object) => void) | undefined} onProgress
 */
function watchProgress(job, onProgress) {
  if (!onProgress) return () => {}
  const report = () => {
    try {
      onProgress(job.progress())
    } catch {
      // A throwing progress callback must not break the analysis.
    }
  }
  const timer = setInterval(report, 100)
  return () => {
    clearInterval(timer)
    report()
  }
}

/**
 * @param {import('./native').Binding} native
 * @param {(job: import('../binding').AnalysisJob) => Promise<unknown>} start
 * @param {CallOptions} options
 */
function runJob(native, start, options) {
  const { signal, onProgress } = options
  if (signal && signal.aborted) return Promise.reject(abortError(signal))
  const job = new native.AnalysisJob()
  const stopProgress = watchProgress(job, onProgress)
  return new Promise((resolve, reject) => {
    const onAbort = () => {
      job.cancel()
      reject(abortError(signal))
    }
    if (signal) signal.addEventListener('abort', onAbort, { once: true })
    const settle = () => {
      stopProgress()
      if (signal) signal.removeEventListener('abort', onAbort)
    }
    start(job).then((report) => {
      settle()
      resolve(report)
    }, (err) => {
      settle()
      reject(err.code === 'ERR_LEAKWATCH_ABORTED' ? abortError(signal) : err)
    })
  })
}

/**
 * Analyses one .heapsnapshot off the JS thread. Resolves with
 * `{ summary, classes, largest }` (see index.d.ts).
 */
/** @param {import('./native').Binding} native @param {unknown} file @param {unknown} options */
function analyze(native, file, options) {
  try {
    const filePath = toPath('analyze(file)', file)
    const opts = checkOptions('analyze', options, ANALYZE_OPTIONS)
    const lim = limits('analyze', opts)
    return runJob(native, (job) => native.analyzeSnapshot(filePath, lim, job), opts)
  } catch (err) {
    return Promise.reject(err)
  }
}

/** An options object rather than a file argument. @param {unknown} value */
const isOptions = (value) => value !== null && typeof value === 'object' &&
  !(value instanceof URL) && !Buffer.isBuffer(value) && !Array.isArray(value)

/**
 * Compares snapshots of one process, in time order, off the JS thread:
 * `diff(before, after, options?)`, `diff(first, second, third, …more, options?)` or
 * `diff([files], options?)`, 2 to 64 files.
 */
/** @param {import('./native').Binding} native @param {unknown[]} args */
function diff(native, args) {
  try {
    /** @type {unknown[]} */
    let given
    let opts
    if (Array.isArray(args[0])) {
      if (args.length > 2) {
        throw invalidArgument('diff(files, options)', 'called with at most two arguments', args[2])
      }
      given = args[0]
      opts = args[1]
    } else {
      const hasOptions = args.length > 0 && (args[args.length - 1] === undefined || isOptions(args[args.length - 1]))
      given = hasOptions ? args.slice(0, -1) : args
      opts = hasOptions ? args[args.length - 1] : undefined
    }
    if (given.length < 2 || given.length > MAX_DIFF_SNAPSHOTS) {
      throw withCode(TypeError, 'ERR_LEAKWATCH_INVALID_ARGUMENT',
        `leakwatch: diff() takes 2 to ${MAX_DIFF_SNAPSHOTS} snapshot files; received ${given.length}`)
    }
    const names = Array.isArray(args[0]) ? undefined : DIFF_NAMES[/** @type {2 | 3} */ (given.length)]
    const files = given.map((f, i) => toPath(names ? `diff(${names[i]})` : `diff(files[${i}])`, f))
    const checked = checkOptions('diff', opts, DIFF_OPTIONS)
    const lim = limits('diff', checked)
    return runJob(native, (job) => native.diffSnapshots(files, lim, job), checked)
  } catch (err) {
    return Promise.reject(err)
  }
}

/**
 * Writes a copy of a snapshot with every string value replaced by a placeholder of its
 * length class (names, code locations, sizes and the graph kept), off the JS thread.
 * Resolves with `{ file, fileBytes, strings, redacted }`; OUTPUT appears only when complete.
 */
/**
 * @param {import('./native').Binding} native
 * @param {unknown} input @param {unknown} output @param {unknown} options
 */
function redact(native, input, output, options) {
  try {
    const from = toPath('redact(input)', input)
    const to = toPath('redact(output)', output)
    const opts = checkOptions('redact', options, REDACT_OPTIONS)
    return runJob(native, (job) => native.redactSnapshot(from, to, job), opts)
  } catch (err) {
    return Promise.reject(err)
  }
}

let heapDiffCount = 0

/**
 * A temporary snapshot through leakwatch's own writer: guarded for memory, disk and pause
 * time, left out of leak detection's clock, line ends first on Node 20 — a HeapDiff taken
 * while a watcher runs neither freezes the server past its budget nor fakes a `leak-stopped`.
 * @param {import('./native').Binding} native
 * @param {string} tag
 * @param {import('./options').SnapshotOptions} options
 */
function writeTemp(native, tag, options) {
  const file = path.join(os.tmpdir(),
    `leakwatch-heapdiff-${process.pid}-${process.hrtime.bigint()}-${heapDiffCount++}-${tag}.heapsnapshot`)
  dumpSync(native, file, options)
  return file
}

/** @param {string} file */
function removeQuietly(file) {
  try {
    fs.unlinkSync(file)
  } catch {
    // Already gone.
  }
}

/**
 * memwatch's HeapDiff: a snapshot now, another at end(), and the difference by class in
 * memwatch's shape. Synchronous like memwatch's (blocks this isolate while the snapshots are
 * written and compared); the temporary snapshots are removed.
 */
class HeapDiff {
  /** @type {import('./native').Binding} */
  #native
  /** @type {import('./options').SnapshotOptions} */
  #options
  #before
  #time
  #ended = false

  /**
   * @param {import('./native').Binding} native
   * @param {import('./options').SnapshotOptions} [options] the running watcher's snapshot
   *   settings (budget, memory limit, disk margin); default: the snapshot defaults
   */
  constructor(native, options = SNAPSHOT_DEFAULTS) {
    this.#native = native
    this.#options = options
    this.#time = new Date()
    this.#before = writeTemp(native, 'before', options)
  }

  end() {
    const native = this.#native
    if (this.#ended) {
      throw withCode(Error, 'ERR_LEAKWATCH_HEAPDIFF_ENDED', 'leakwatch: end() was already called on this HeapDiff')
    }
    this.#ended = true
    const endTime = new Date()
    let after
    try {
      after = writeTemp(native, 'after', this.#options)
      const report = native.diffSnapshotsSync([this.#before, after], { classes: ALL, groups: 0 })
      const [first, second] = report.snapshots
      const side = (/** @type {any} */ s, /** @type {Date} */ time) => ({ nodes: s.nodeCount, time, size_bytes: s.totalSize, size: humanSize(s.totalSize) })
      const change = second.totalSize - first.totalSize
      return {
        before: side(first, this.#time),
        after: side(second, endTime),
        change: {
          size_bytes: change,
          size: humanSize(change),
          freed_nodes: report.totals.removedCount,
          allocated_nodes: report.totals.addedCount,
          details: report.classes.map((/** @type {any} */ row) => ({
            what: row.name,
            size_bytes: row.sizeDelta,
            size: humanSize(row.sizeDelta),
            '+': row.addedCount,
            '-': row.removedCount,
          })),
        },
      }
    } finally {
      removeQuietly(this.#before)
      if (after) removeQuietly(after)
    }
  }
}

module.exports = { analyze, diff, redact, HeapDiff, MAX_DIFF_SNAPSHOTS }
