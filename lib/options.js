'use strict'

const { invalidType, outOfRange, unknownOption } = require('./errors')

const MiB = 1024 * 1024

function numeric(min, max, { integer }) {
  const expected = `${integer ? 'an integer' : 'a number'} between ${min} and ${max}`
  return (name, value) => {
    if (typeof value !== 'number' || Number.isNaN(value)) throw invalidType(name, expected, value)
    const fits = integer ? Number.isInteger(value) : Number.isFinite(value)
    if (!fits || value < min || value > max) throw outOfRange(name, expected, value)
    return value
  }
}

const integer = (min, max) => numeric(min, max, { integer: true })
const number = (min, max) => numeric(min, max, { integer: false })

// `null` (off) or what `check` accepts.
const orNull = (check) => (name, value) => (value === null ? null : check(name, value))

function boolean(name, value) {
  if (typeof value !== 'boolean') throw invalidType(name, 'a boolean', value)
  return value
}

function nonEmptyString(name, value) {
  if (typeof value !== 'string' || value.length === 0) throw invalidType(name, 'a non-empty string', value)
  return value
}

// Signals whose default action or existing use a listener would take over.
const RESERVED_SIGNALS = ['SIGINT', 'SIGTERM', 'SIGQUIT', 'SIGHUP', 'SIGKILL', 'SIGSTOP', 'SIGUSR1',
  'SIGSEGV', 'SIGBUS', 'SIGFPE', 'SIGILL', 'SIGABRT', 'SIGCHLD', 'SIGPIPE', 'SIGTSTP']

function signalName(name, value) {
  const known = Object.keys(require('node:os').constants.signals)
  if (typeof value !== 'string') throw invalidType(name, 'a signal name such as "SIGUSR2" or null', value)
  if (!known.includes(value) || RESERVED_SIGNALS.includes(value)) {
    throw outOfRange(name, `a signal name not used for process control (e.g. "SIGUSR2"); not ${RESERVED_SIGNALS.join(', ')}`, value)
  }
  return value
}

function oneOf(choices) {
  const list = choices.map((c) => JSON.stringify(c)).join(' or ')
  return (name, value) => {
    if (typeof value !== 'string') throw invalidType(name, list, value)
    if (!choices.includes(value)) throw outOfRange(name, list, value)
    return value
  }
}

// An object of options with its own spec; `orFalse` also accepts `false` (turned off).
function group(spec, { orFalse = false } = {}) {
  const check = (name, value) => {
    if (orFalse && value === false) return null
    if (value === undefined || value === null) value = {}
    if (typeof value !== 'object' || Array.isArray(value)) {
      throw invalidType(name, orFalse ? 'an object or false' : 'an object', value)
    }
    const known = Object.keys(spec)
    for (const key of Object.keys(value)) {
      if (!Object.prototype.hasOwnProperty.call(spec, key)) {
        throw unknownOption(name ? `${name}.${key}` : key, known)
      }
    }
    const resolved = {}
    for (const key of known) {
      const given = value[key]
      const path = name ? `${name}.${key}` : key
      resolved[key] = spec[key].check(path, given === undefined ? spec[key].default : given)
    }
    return Object.freeze(resolved)
  }
  return check
}

const metric = (minGrowthBytes, minGrowthRatio) => ({
  default: {},
  check: group({
    // Least growth over the window for a leak, bytes.
    minGrowthBytes: { default: minGrowthBytes, check: integer(0, Number.MAX_SAFE_INTEGER) },
    // Least growth relative to the level at the window start (0.1 = 10 %).
    minGrowthRatio: { default: minGrowthRatio, check: number(0, 100) },
  }, { orFalse: true }),
})

const MINUTE = 60_000

// The `snapshot` block.
function SNAPSHOT_SPEC() {
  return {
    // Directory of automatic dumps and of `writeSnapshot()` without a path; null = Node's
    // diagnostic directory (`--diagnostic-dir`, else the working directory) at start().
    dir: { default: null, check: orNull(nonEmptyString) },
    // Dump when a `leak` is reported.
    onLeak: { default: true, check: boolean },
    // Dump when the heap after a full GC uses this percentage of the heap limit; null = off.
    heapUsedPercent: { default: null, check: orNull(number(1, 100)) },
    // Dump when RSS reaches this many bytes; null = off.
    rssBytes: { default: null, check: orNull(integer(1, Number.MAX_SAFE_INTEGER)) },
    // One dump just before the isolate runs out of heap (fires once).
    nearHeapLimit: { default: false, check: boolean },
    // Dump on this signal (main thread only); null = off.
    signal: { default: null, check: orNull(signalName) },
    // Least time between two automatic dumps (leak, heapUsedPercent, rssBytes), ms.
    cooldownMs: { default: 10 * MINUTE, check: integer(0, 7 * 24 * 60 * MINUTE) },
    // leakwatch dumps kept in `dir`; the oldest beyond this are removed.
    maxFiles: { default: 5, check: integer(1, 10_000) },
    // Free disk space that must remain after a dump, bytes.
    minFreeDiskBytes: { default: 1024 * MiB, check: integer(0, Number.MAX_SAFE_INTEGER) },
    // Memory this process may use in total (RSS) while dumping; null = the cgroup limit and
    // the system's available memory only.
    memoryLimitBytes: { default: null, check: orNull(integer(1, Number.MAX_SAFE_INTEGER)) },
  }
}

// Every public option of start(), with its default and its check.
const SPEC = {
  // How often the background thread samples RSS and drains pending GC records, ms.
  sampleIntervalMs: { default: 1000, check: integer(10, 3_600_000) },
  // Minimum time between two `stats` events, ms; 0 = after every full GC (as memwatch).
  statsIntervalMs: { default: 0, check: integer(0, 86_400_000) },
  // 'auto': V8 GC callbacks, falling back to perf_hooks if the V8 symbols are missing;
  // 'perf_hooks': always use perf_hooks GC entries.
  gcSource: { default: 'auto', check: oneOf(['auto', 'perf_hooks']) },
  // Allocation sites on `leak` events: V8's sampling heap profiler through an in-process
  // inspector session; false = no session, no profiler.
  attribution: {
    default: {},
    check: group({
      // Mean bytes allocated between two samples.
      samplingIntervalBytes: { default: 512 * 1024, check: integer(1024, 1024 * MiB) },
      // Stacks listed per leak.
      top: { default: 5, check: integer(1, 100) },
    }, { orFalse: true }),
  },
  // Heap snapshots written by leakwatch (see lib/snapshot.js); false = no automatic dumps
  // (`writeSnapshot()` still works, with these defaults).
  snapshot: {
    default: false,
    check: group(SNAPSHOT_SPEC(), { orFalse: true }),
  },
  detection: {
    default: {},
    check: group({
      // 'trend' (default), 'consecutive' (memwatch's rule) or 'off'.
      mode: { default: 'trend', check: oneOf(['trend', 'consecutive', 'off']) },
      // consecutive mode: growing full-GC baselines that make a leak.
      consecutiveGcs: { default: 5, check: integer(2, 1000) },
      // trend mode: sliding window, ms.
      windowMs: { default: 120_000, check: integer(1000, 86_400_000) },
      // trend mode: no verdict this long after start, ms.
      warmupMs: { default: 10_000, check: integer(0, 86_400_000) },
      // trend mode: fewest points in the window for a verdict.
      minPoints: { default: 5, check: integer(3, 10_000) },
      // trend mode: least Mann-Kendall share of increasing pairs (1 = strictly increasing).
      minConsistency: { default: 0.6, check: number(0, 1) },
      // trend mode: recent-third slope / window slope below this = levelling off, no leak.
      plateauRatio: { default: 0.5, check: number(0, 1) },
      // after a leak, the level must rise this fraction more before the next one.
      rearmRatio: { default: 0.25, check: number(0, 100) },
      // trend mode: when V8's own full GCs are rare, request one (incremental, paced by V8)
      // once the heap after a GC, external memory or RSS has grown since the last full GC by
      // a share of what a verdict needs; false = wait for V8's full GCs only.
      confirm: {
        default: {},
        check: group({
          // Largest share of wall time spent in requested full GCs (0.01 = 1 %).
          maxPauseRatio: { default: 0.01, check: number(0.0001, 0.5) },
          // Least time between a full GC and a request, ms.
          minIntervalMs: { default: 1000, check: integer(100, 86_400_000) },
        }, { orFalse: true }),
      },
      heap: metric(8 * MiB, 0.1),
      external: metric(8 * MiB, 0.1),
      rss: metric(32 * MiB, 0.2),
    }),
  },
}

const resolveTop = group(SPEC)

/** Validates `options` and returns a complete, frozen options object. */
function resolveOptions(options) {
  if (options !== undefined && options !== null &&
    (typeof options !== 'object' || Array.isArray(options))) {
    throw invalidType('options', 'an object', options)
  }
  return resolveTop('', options)
}

const DEFAULTS = resolveOptions({})
// What `writeSnapshot()` uses when no watcher has a `snapshot` block.
const SNAPSHOT_DEFAULTS = group(SNAPSHOT_SPEC())('snapshot', {})

module.exports = { resolveOptions, DEFAULTS, SNAPSHOT_DEFAULTS }
