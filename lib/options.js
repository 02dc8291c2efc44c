// @ts-check
'use strict'

// Every public option of start(): its default, its check, its description and unit, once.
// resolveOptions() validates with it; scripts/options-doc.js writes the table of
// docs/options.md from it.

const { invalidType, outOfRange, unknownOption } = require('./errors')
const { KiB, MiB, GiB } = require('./bytes')

/**
 * Validates one value (`name`: its full path, for the message) and returns it resolved.
 * `range`: the bounds of a numeric check; `spec`: the entries of a group (both for the docs).
 * @typedef {((name: string, value: any) => any) & {
 *   range?: { min: number, max: number, integer: boolean }, spec?: Spec }} Check
 */
/**
 * One option. `unit`: of the value and its bounds ('ms', 'bytes', '%'). `table`: how the
 * docs show a group: one row ('row'), its own row and one per option ('rows'), or one per
 * option only ('options').
 * @typedef {{ default: any, check: Check, description: string, unit?: 'ms' | 'bytes' | '%',
 *   table?: 'row' | 'rows' | 'options' }} Entry
 * @typedef {Record<string, Entry>} Spec
 */

/**
 * @param {number} min @param {number} max @param {{ integer: boolean }} kind
 * @returns {Check}
 */
function numeric(min, max, { integer }) {
  const expected = `${integer ? 'an integer' : 'a number'} between ${min} and ${max}`
  /** @type {Check} */
  const check = (name, value) => {
    if (typeof value !== 'number' || Number.isNaN(value)) throw invalidType(name, expected, value)
    const fits = integer ? Number.isInteger(value) : Number.isFinite(value)
    if (!fits || value < min || value > max) throw outOfRange(name, expected, value)
    return value
  }
  check.range = { min, max, integer }
  return check
}

const integer = (/** @type {number} */ min, /** @type {number} */ max) => numeric(min, max, { integer: true })
const number = (/** @type {number} */ min, /** @type {number} */ max) => numeric(min, max, { integer: false })

/**
 * `null` (off) or what `check` accepts.
 * @param {Check} check @returns {Check}
 */
const orNull = (check) => Object.assign((/** @type {string} */ name, /** @type {any} */ value) =>
  (value === null ? null : check(name, value)), { range: check.range })

/** @param {string} name @param {any} value */
function boolean(name, value) {
  if (typeof value !== 'boolean') throw invalidType(name, 'a boolean', value)
  return value
}

/** @param {string} name @param {any} value */
function nonEmptyString(name, value) {
  if (typeof value !== 'string' || value.length === 0) throw invalidType(name, 'a non-empty string', value)
  return value
}

// Signals whose default action or existing use a listener would take over.
const RESERVED_SIGNALS = ['SIGINT', 'SIGTERM', 'SIGQUIT', 'SIGHUP', 'SIGKILL', 'SIGSTOP', 'SIGUSR1',
  'SIGSEGV', 'SIGBUS', 'SIGFPE', 'SIGILL', 'SIGABRT', 'SIGCHLD', 'SIGPIPE', 'SIGTSTP']

/** @param {string} name @param {any} value */
function signalName(name, value) {
  const known = Object.keys(require('node:os').constants.signals)
  if (typeof value !== 'string') throw invalidType(name, 'a signal name such as "SIGUSR2" or null', value)
  if (!known.includes(value) || RESERVED_SIGNALS.includes(value)) {
    throw outOfRange(name, `a signal name not used for process control (e.g. "SIGUSR2"); not ${RESERVED_SIGNALS.join(', ')}`, value)
  }
  return value
}

/** @param {string[]} choices @returns {Check} */
function oneOf(choices) {
  const list = choices.map((c) => JSON.stringify(c)).join(' or ')
  return (/** @type {string} */ name, /** @type {any} */ value) => {
    if (typeof value !== 'string') throw invalidType(name, list, value)
    if (!choices.includes(value)) throw outOfRange(name, list, value)
    return value
  }
}

/**
 * An object of options with its own spec; `orFalse` also accepts `false` (turned off),
 * `orTrue` also `true` (on, with the defaults).
 * @param {Spec} spec @param {{ orFalse?: boolean, orTrue?: boolean }} [accepts] @returns {Check}
 */
function group(spec, { orFalse = false, orTrue = false } = {}) {
  /** @type {Check} */
  const check = (name, value) => {
    if (orFalse && value === false) return null
    if (value === undefined || value === null || (orTrue && value === true)) value = {}
    if (typeof value !== 'object' || Array.isArray(value)) {
      throw invalidType(name, orTrue ? 'an object, true or false' : orFalse ? 'an object or false' : 'an object', value)
    }
    const known = Object.keys(spec)
    for (const key of Object.keys(value)) {
      if (!Object.prototype.hasOwnProperty.call(spec, key)) {
        throw unknownOption(name ? `${name}.${key}` : key, known)
      }
    }
    /** @type {Record<string, any>} */
    const resolved = {}
    for (const key of known) {
      const given = value[key]
      const path = name ? `${name}.${key}` : key
      resolved[key] = spec[key].check(path, given === undefined ? spec[key].default : given)
    }
    return Object.freeze(resolved)
  }
  check.spec = spec
  return check
}

/**
 * @param {string} description @param {number} minGrowthBytes @param {number} minGrowthRatio
 * @returns {Entry}
 */
const metric = (description, minGrowthBytes, minGrowthRatio) => ({
  default: {},
  description,
  table: 'row',
  check: group({
    minGrowthBytes: {
      default: minGrowthBytes,
      check: integer(0, Number.MAX_SAFE_INTEGER),
      unit: 'bytes',
      description: 'Least growth over the window for a leak.',
    },
    minGrowthRatio: {
      default: minGrowthRatio,
      check: number(0, 100),
      description: 'Least growth relative to the level at the window start (0.1 = 10 %).',
    },
  }, { orFalse: true }),
})

const MINUTE = 60_000

// The `snapshot` block.
function SNAPSHOT_SPEC() {
  /** @type {Spec} */
  const spec = {
    dir: {
      default: null,
      check: orNull(nonEmptyString),
      description: 'Directory of dumps; `null` = `--diagnostic-dir`, else the working directory at `start()`.',
    },
    onLeak: { default: true, check: boolean, description: 'Dump on each `leak` event.' },
    heapUsedPercent: {
      default: null,
      check: orNull(number(1, 100)),
      unit: '%',
      description: 'Dump when the heap after a full GC reaches this share of the heap limit; `null` = off.',
    },
    rssBytes: {
      default: null,
      check: orNull(integer(1, Number.MAX_SAFE_INTEGER)),
      unit: 'bytes',
      description: 'Dump when RSS reaches this many bytes (checked on `stats` and every `sampleIntervalMs`); `null` = off.',
    },
    nearHeapLimit: {
      default: false,
      check: boolean,
      description: 'One dump just before the isolate runs out of heap (fires once).',
    },
    signal: {
      default: null,
      check: orNull(signalName),
      description: 'Dump the main thread on this signal, e.g. `\'SIGUSR2\'`; `null` = off. Signals used ' +
        `for process control (${RESERVED_SIGNALS.slice(0, 7).join(', ')}, …) are refused.`,
    },
    cooldownMs: {
      default: 10 * MINUTE,
      check: integer(0, 7 * 24 * 60 * MINUTE),
      unit: 'ms',
      description: 'Least time between two automatic dumps (leak, heapUsedPercent, rssBytes).',
    },
    maxFiles: {
      default: 5,
      check: integer(1, 10_000),
      description: 'leakwatch dumps kept in `dir`; the oldest beyond this are removed.',
    },
    minFreeDiskBytes: {
      default: GiB,
      check: integer(0, Number.MAX_SAFE_INTEGER),
      unit: 'bytes',
      description: 'Free disk space that must remain after a dump.',
    },
    memoryLimitBytes: {
      default: null,
      check: orNull(integer(1, Number.MAX_SAFE_INTEGER)),
      unit: 'bytes',
      description: 'Memory this process may use in total (RSS) while dumping; `null` = the cgroup ' +
        'limit and the system\'s available memory only.',
    },
    maxPauseMs: {
      default: 30_000,
      check: orNull(integer(100, 3_600_000)),
      unit: 'ms',
      description: 'Longest a dump may block the isolate: a dump expected to take longer is skipped ' +
        '(`snapshot-skipped`, reason `pause`), one still running at 1.25 × this is abandoned; ' +
        '`null` = no budget (see [the pause budget](snapshots.md#the-pause-budget)).',
    },
  }
  return spec
}

/** Every public option of start(). @type {Spec} */
const SPEC = {
  sampleIntervalMs: {
    default: 1000,
    check: integer(10, 3_600_000),
    unit: 'ms',
    description: 'How often the background thread samples RSS (`/proc/self/statm`) and drains pending GC records.',
  },
  statsIntervalMs: {
    default: 0,
    check: integer(0, 86_400_000),
    unit: 'ms',
    description: 'Minimum time between two `stats` events; GCs in between are still counted. ' +
      '`0` = after every full GC, as memwatch.',
  },
  gcSource: {
    default: 'auto',
    check: oneOf(['auto', 'perf_hooks']),
    description: '`\'auto\'`: V8 GC callbacks, falling back to perf_hooks if they cannot be used. ' +
      '`\'perf_hooks\'`: always perf_hooks GC entries plus `v8.getHeapStatistics()`.',
  },
  detection: {
    default: {},
    table: 'options',
    description: 'Leak detection.',
    check: group({
      mode: {
        default: 'trend',
        check: oneOf(['trend', 'consecutive', 'off']),
        description: '`\'trend\'`, `\'consecutive\'` (memwatch\'s rule) or `\'off\'`.',
      },
      consecutiveGcs: {
        default: 5,
        check: integer(2, 1000),
        description: 'consecutive mode: growing full-GC baselines that make a leak.',
      },
      windowMs: {
        default: 120_000,
        check: integer(1000, 86_400_000),
        unit: 'ms',
        description: 'trend: sliding window.',
      },
      warmupMs: {
        default: 10_000,
        check: integer(0, 86_400_000),
        unit: 'ms',
        description: 'trend: no verdict this long after start (caches warming up).',
      },
      minPoints: {
        default: 5,
        // The binding's TREND_MAX_MIN_POINTS: the trend window keeps at most 128 points, at
        // least 64 when samples come often enough; a larger value could silently never be met.
        check: integer(3, 64),
        description: 'trend: fewest points in the window for a verdict.',
      },
      minConsistency: {
        default: 0.6,
        check: number(0, 1),
        description: 'trend: least Mann–Kendall share of increasing pairs (1 = strictly increasing).',
      },
      plateauRatio: {
        default: 0.5,
        check: number(0, 1),
        description: 'trend: recent-third slope ÷ window slope below this = levelling off, no leak.',
      },
      rearmRatio: {
        default: 0.25,
        check: number(0, 100),
        description: 'After a `leak`, the further relative rise needed before the next one of that metric ' +
          '(also when growth resumes within `windowMs` of its `leak-stopped`: the same episode).',
      },
      confirm: {
        default: {},
        table: 'row',
        description: 'trend: when V8\'s own full GCs are rare, request one (incremental, paced by V8) ' +
          'once a metric has grown since the last full GC by a share of what a verdict needs, and while a ' +
          'heap or external leak is reported, after `windowMs / minPoints` without one ' +
          '(see [Confirmation GCs](detection.md#confirmation-gcs)); `false` = wait for V8\'s full GCs only.',
        check: group({
          maxPauseRatio: {
            default: 0.01,
            check: number(0.0001, 0.5),
            description: 'Largest share of wall time spent in requested full GCs (0.01 = 1 %).',
          },
          minIntervalMs: {
            default: 1000,
            check: integer(100, 86_400_000),
            unit: 'ms',
            description: 'Least time between a full GC and a request.',
          },
        }, { orFalse: true }),
      },
      urgency: {
        default: {},
        table: 'row',
        description: 'trend: evidence scaled to the time until the limit at the current rate ' +
          '(see [Evidence scaled to urgency](detection.md#evidence-scaled-to-urgency)): growth ' +
          'that reaches the limit within `urgentMs` is reported as soon as the rules above allow; ' +
          'slower growth must first be seen rising for up to `sustainMs`, counted from the start of the rise ' +
          '(early in a process\'s life or later); `minSpanMs` asks every growth, however near the ' +
          'limit, for at least that span; `false` = the rules above alone.',
        check: group({
          urgentMs: {
            default: 10 * MINUTE,
            check: integer(0, 7 * 24 * 60 * MINUTE),
            unit: 'ms',
            description: 'Time to the limit at or under which no extra evidence is asked.',
          },
          relaxedMs: {
            default: 60 * MINUTE,
            check: integer(0, 7 * 24 * 60 * MINUTE),
            unit: 'ms',
            description: 'Time to the limit at or over which the full `sustainMs` is asked (log scale in between).',
          },
          sustainMs: {
            default: 75_000,
            check: integer(0, 86_400_000),
            unit: 'ms',
            description: 'The longest span of observed growth a first `leak` needs.',
          },
          minSpanMs: {
            default: 0,
            check: integer(0, 86_400_000),
            unit: 'ms',
            description: 'The shortest span of observed growth any first `leak` needs, however near ' +
              'the limit: set it above a service\'s own warm-up when that warm-up is urgent growth ' +
              'in its container (capped, like `sustainMs`, at 90 % of `windowMs`).',
          },
        }, { orFalse: true }),
      },
      memoryLimitBytes: {
        default: null,
        check: orNull(integer(1, Number.MAX_SAFE_INTEGER)),
        unit: 'bytes',
        description: 'The process\'s memory budget for time-to-limit (RSS, external memory, and ' +
          'the heap when nearer than its own limit); `null` = the cgroup limit and the system\'s ' +
          'available memory.',
      },
      heap: metric('Thresholds for the heap after full GCs, or `false`.', 8 * MiB, 0.1),
      external: metric('Thresholds for external memory after full GCs, or `false`.', 8 * MiB, 0.1),
      rss: metric('Thresholds for sampled memory outside the heap, or `false`.', 32 * MiB, 0.2),
    }),
  },
  attribution: {
    default: {},
    table: 'row',
    description: 'Allocation sites on `leak` events: V8\'s sampling heap profiler through an ' +
      'in-process inspector session; `false` = no session, no profiler. `when: \'growth\'` runs ' +
      'the profiler only from early growth (half a leak\'s growth, or a new high that far above ' +
      'the window\'s median; warm-up or not) until 30 s after it and any reported leak end, so a ' +
      'steady process pays nothing; a leak\'s sites then cover the growth since the profiler ' +
      'started (`attribution.since` in the payload; measured: most of it, see ' +
      '[Allocation sites](detection.md#allocation-sites)). `when: \'always\'` runs it from ' +
      '`start()` to `stop()`.',
    check: group({
      samplingIntervalBytes: {
        default: 512 * KiB,
        check: integer(KiB, GiB),
        unit: 'bytes',
        description: 'Mean bytes allocated between two samples.',
      },
      top: { default: 5, check: integer(1, 100), description: 'Stacks listed per leak.' },
      when: {
        default: 'growth',
        check: oneOf(['growth', 'always']),
        description: 'When the sampling profiler runs: on early growth, or from start() to stop().',
      },
    }, { orFalse: true }),
  },
  snapshot: {
    default: false,
    table: 'rows',
    description: 'Automatic heap snapshots (see [Heap snapshots](snapshots.md)); `{}` = the ' +
      'defaults below; `false` = none (`writeSnapshot()` still works, with these defaults).',
    check: group(SNAPSHOT_SPEC(), { orFalse: true }),
  },
  diagnose: {
    default: false,
    table: 'rows',
    description: 'On a `leak`, find what leaks and who holds it: two or three guarded snapshots as ' +
      'the leak grows, compared in a separate low-priority process, then a `leak-report` event ' +
      '(see [Diagnosis](diagnosis.md)). Uses the `snapshot` block\'s directory, cooldown and guard ' +
      '(the snapshot defaults without one); `true` or `{}` = the defaults below; `false` = off.',
    check: group({
      snapshots: {
        default: 3,
        check: integer(2, 3),
        description: 'Dumps per diagnosis: 3 keeps only what was allocated between the 1st and 2nd ' +
          'and is still alive in the 3rd; 2 reports sooner.',
      },
      growthBytes: {
        default: null,
        check: orNull(integer(0, Number.MAX_SAFE_INTEGER)),
        unit: 'bytes',
        description: 'Further growth of the leaking metric awaited before the next dump; `null` = the ' +
          '`growth` the `leak` reported, at least 1 MiB.',
      },
      maxWaitMs: {
        default: 30 * MINUTE,
        check: integer(0, 7 * 24 * 60 * MINUTE),
        unit: 'ms',
        description: 'Longest wait for that growth; the next dump is then taken anyway (the snapshot ' +
          'cooldown still applies).',
      },
      analysisTimeoutMs: {
        default: 10 * MINUTE,
        check: integer(1000, 24 * 60 * MINUTE),
        unit: 'ms',
        description: 'The analysis process is killed after this long.',
      },
      cooldownMs: {
        default: 60 * MINUTE,
        check: integer(0, 7 * 24 * 60 * MINUTE),
        unit: 'ms',
        description: 'Least time from the end of one diagnosis to the start of the next.',
      },
      maxReports: {
        default: 3,
        check: integer(1, 1000),
        description: 'Diagnosis directories (snapshots and reports) kept in the snapshot `dir`; ' +
          'the oldest beyond this are removed.',
      },
    }, { orFalse: true, orTrue: true }),
  },
}

const resolveTop = group(SPEC)

/**
 * Validates `options` and returns a complete, frozen options object.
 * @param {unknown} options
 * @returns {Options}
 */
function resolveOptions(options) {
  if (options !== undefined && options !== null &&
    (typeof options !== 'object' || Array.isArray(options))) {
    throw invalidType('options', 'an object', options)
  }
  return resolveTop('', options)
}

/**
 * Resolved options (the shape of `leakwatch.defaults`; index.d.ts documents each field).
 * @typedef {{ sampleIntervalMs: number, statsIntervalMs: number, gcSource: string,
 *   detection: DetectionOptions, attribution: { samplingIntervalBytes: number, top: number, when: string } | null,
 *   snapshot: SnapshotOptions | null, diagnose: DiagnoseOptions | null }} Options
 * @typedef {{ snapshots: number, growthBytes: number | null, maxWaitMs: number,
 *   analysisTimeoutMs: number, cooldownMs: number, maxReports: number }} DiagnoseOptions
 * @typedef {{ mode: string, consecutiveGcs: number, windowMs: number, warmupMs: number,
 *   minPoints: number, minConsistency: number, plateauRatio: number, rearmRatio: number,
 *   confirm: { maxPauseRatio: number, minIntervalMs: number } | null,
 *   urgency: { urgentMs: number, relaxedMs: number, sustainMs: number, minSpanMs: number } | null,
 *   memoryLimitBytes: number | null,
 *   heap: Thresholds | null, external: Thresholds | null, rss: Thresholds | null }} DetectionOptions
 * @typedef {{ minGrowthBytes: number, minGrowthRatio: number }} Thresholds
 * @typedef {{ dir: string | null, onLeak: boolean, heapUsedPercent: number | null,
 *   rssBytes: number | null, nearHeapLimit: boolean, signal: string | null, cooldownMs: number,
 *   maxFiles: number, minFreeDiskBytes: number, memoryLimitBytes: number | null,
 *   maxPauseMs: number | null }} SnapshotOptions
 */

const DEFAULTS = resolveOptions({})
/** What `writeSnapshot()` uses when no watcher has a `snapshot` block. @type {SnapshotOptions} */
const SNAPSHOT_DEFAULTS = group(SNAPSHOT_SPEC())('snapshot', {})

module.exports = { SPEC, resolveOptions, DEFAULTS, SNAPSHOT_DEFAULTS }
