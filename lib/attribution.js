// @ts-check
'use strict'

// Allocation sites for `leak` events: V8's sampling heap profiler, driven in-process through
// a `node:inspector` Session (no port is opened). The profiler keeps one sample per
// ~`samplingInterval` bytes allocated and drops a sample when its object is collected, so a
// profile lists live memory by allocation stack. Every sample carries an ordinal that grows
// with allocation order. Reading a profile makes V8 run a full GC first (the inspector asks
// for kSamplingForceGC), so leakwatch reads one only when a `leak` is reported: it notes
// (time, highest ordinal) then, and at the next `leak` keeps the live samples newer than the
// newest note taken at or before that leak's window start (the profiler's start counts as
// ordinal 0): memory that grew during the window and is still alive, by the stack that
// allocated it.
//
// The profiler costs throughput while it runs, so by default it runs only while the detector
// sees early growth (`sampling-start` / `sampling-stop` from the native side, on this thread):
// resume() and pause(). V8 numbers samples afresh at each start, so the notes start over too.
// The session, once connected, stays connected until stop(): disconnecting it disables the
// inspector's HeapProfiler agent, which clears V8's heap object ids, and heap snapshots taken
// before and after would no longer share ids.

const inspector = require('node:inspector')
const { withCode } = require('./errors')

/**
 * A sampling heap profile as the inspector returns it (the fields leakwatch reads).
 * @typedef {{ callFrame: CallFrame, id: number, children?: ProfileNode[] }} ProfileNode
 * @typedef {{ functionName: string, url: string, lineNumber: number, columnNumber: number }} CallFrame
 * @typedef {{ head: ProfileNode, samples: { nodeId: number, size: number, ordinal: number }[] }} Profile
 * @typedef {{ profile: Profile, samplingInterval: number, sinceOrdinal: number, startTime: number }} Read
 *   a profile and which of its samples count: those newer than `sinceOrdinal`, sampled since
 *   `startTime` (ms since the epoch)
 */

class Attribution {
  /** @type {inspector.Session | null} */
  #session = null
  /** @type {'ok' | 'off' | 'busy' | 'unavailable'} */
  #status = 'ok'
  /** @type {string | undefined} */
  #message = undefined
  /** When the running profiler started (ms since the epoch); null while it is not running. @type {number | null} */
  #since = null
  /** @type {{ time: number, ordinal: number }[]} */
  #marks = []
  #keepMs
  #top
  #samplingInterval
  /** The profile the latest `sites()` read, for its pprof file (lib/evidence.js). @type {Read | null} */
  #lastRead = null

  /**
   * @param {{ samplingIntervalBytes: number, top: number, when: string }} options
   * @param {number} windowMs how far back a leak window can start
   */
  constructor(options, windowMs) {
    this.#top = options.top
    this.#samplingInterval = options.samplingIntervalBytes
    this.#keepMs = 2 * windowMs
    if (options.when === 'always') this.resume()
  }

  /** `{ status, message? }` for the `leak` payload. */
  get state() {
    return this.#message === undefined ? { status: this.#status } : { status: this.#status, message: this.#message }
  }

  /** For `stats.attribution`: 'sampling' | 'idle', or why there are no sites ('busy' | 'unavailable' | 'off'). */
  get activity() {
    if (this.#since !== null) return 'sampling'
    return this.#status === 'ok' ? 'idle' : this.#status
  }

  /**
   * Starts the sampling profiler (connecting the session the first time). Idempotent; after a
   * failure ('busy': another client owned or stopped it) it tries again.
   */
  resume() {
    if (this.#since !== null || this.#status === 'off') return
    try {
      if (!this.#session) {
        const session = new inspector.Session()
        session.connect()
        this.#session = session
      }
      this.#call('HeapProfiler.startSampling', { samplingInterval: this.#samplingInterval })
      this.#since = Date.now()
      this.#marks = [{ time: this.#since, ordinal: 0 }]
      this.#status = 'ok'
      this.#message = undefined
    } catch (err) {
      this.#fail(err)
    }
  }

  /** Stops the sampling profiler and forgets its samples; the session stays connected. */
  pause() {
    if (this.#since === null) return
    this.#since = null
    this.#marks = []
    try {
      // Answers with the profile, after the full GC that reading one takes.
      this.#call('HeapProfiler.stopSampling')
    } catch {}
  }

  /**
   * After a heap snapshot: while V8's sampling profiler runs, its heap profiler keeps every
   * name a snapshot made — the index names of arrays, Maps and Sets, a kilobyte each, hundreds
   * of megabytes after one dump of a big heap — until the profiler stops. Restarting it lets V8
   * drop them; the samples taken so far go with them, and sampling goes on at once (a later
   * `leak`'s sites then cover the growth since the dump: `attribution.since` says so).
   * Returns whether it restarted (the freed names are then worth giving back to the OS).
   */
  afterSnapshot() {
    if (this.#since === null) return false
    this.pause()
    this.resume()
    return true
  }

  /**
   * The allocation stacks of sampled memory allocated since `start` and still alive,
   * largest first, and since when the profiler has sampled (`since`, a Date: the sites cover
   * the window from the later of the two). Never throws: on failure, an empty list and a
   * status that says why.
   * @param {Date} start
   */
  sites(start) {
    // A read that fails below must not leave an earlier read for takeLastRead().
    this.#lastRead = null
    if (this.#since === null) this.resume()
    if (!this.#session || this.#since === null) return { sites: [], ...this.state }
    let profile
    try {
      profile = this.#call('HeapProfiler.getSamplingProfile').profile
    } catch (err) {
      this.#fail(err)
      return { sites: [], ...this.state }
    }
    const since = this.#ordinalAt(start.getTime())
    this.#noteOrdinal(profile)
    this.#lastRead = { profile, samplingInterval: this.#samplingInterval, sinceOrdinal: since,
      startTime: Math.max(this.#since, start.getTime()) }
    return { sites: topSites(profile, since, this.#top), status: 'ok', since: new Date(this.#since) }
  }

  /**
   * The samples of the latest `sites()` call (the same the `leak` payload's sites count), once:
   * the profile is dropped when taken.
   */
  takeLastRead() {
    const read = this.#lastRead
    this.#lastRead = null
    return read
  }

  /**
   * Every live sample now, for `writeHeapProfile()` and skipped snapshots. Throws
   * ERR_LEAKWATCH_PROFILE_UNAVAILABLE with `reason` — 'idle' (not sampling now:
   * `when: 'growth'` and no early growth), 'busy', 'unavailable' or 'off' — when there is no
   * profile to read.
   * @returns {Read}
   */
  read() {
    if (this.#since === null || !this.#session) {
      throw unavailable(this.#status === 'ok' ? 'idle' : this.#status, this.#message)
    }
    try {
      const { profile } = this.#call('HeapProfiler.getSamplingProfile')
      return { profile, samplingInterval: this.#samplingInterval, sinceOrdinal: 0, startTime: this.#since }
    } catch (err) {
      this.#fail(err)
      throw unavailable(this.#status, this.#message)
    }
  }

  stop() {
    this.pause()
    if (this.#session) {
      try {
        this.#session.disconnect()
      } catch {}
      this.#session = null
    }
    if (this.#status === 'ok') this.#status = 'off'
  }

  // In-process sessions answer synchronously; anything else counts as unavailable.
  /** @param {string} method @param {object} [params] @returns {any} */
  #call(method, params) {
    let answered = false
    /** @type {Error | null} */
    let error = null
    /** @type {unknown} */
    let result
    /** @type {inspector.Session} */ (this.#session).post(method, params, (err, res) => {
      answered = true
      error = err
      result = res
    })
    if (!answered) throw new Error(`the inspector did not answer ${method} synchronously`)
    if (error) throw error
    return result
  }

  /** @param {Profile} profile */
  #noteOrdinal(profile) {
    let ordinal = this.#marks.length ? this.#marks[this.#marks.length - 1].ordinal : 0
    for (const s of profile.samples) if (s.ordinal > ordinal) ordinal = s.ordinal
    const now = Date.now()
    this.#marks.push({ time: now, ordinal })
    while (this.#marks.length > 2 && this.#marks[1].time < now - this.#keepMs) this.#marks.shift()
  }

  // The highest ordinal noted at or before `time` (0 when the window predates every mark).
  /** @param {number} time */
  #ordinalAt(time) {
    let ordinal = 0
    for (const m of this.#marks) {
      if (m.time > time) break
      ordinal = m.ordinal
    }
    return ordinal
  }

  // Another inspector client (DevTools, a profiler) stopped or owns the sampling profiler,
  // or the inspector is missing from this Node.js build. The session stays connected (see
  // the notes at the top) unless it is the inspector itself that failed.
  /** @param {any} err */
  #fail(err) {
    const message = err && err.message ? err.message : String(err)
    this.#status = /not started|already|another/i.test(message) ? 'busy' : 'unavailable'
    this.#message = message
    this.#since = null
    this.#marks = []
    if (this.#status === 'unavailable' && this.#session) {
      try {
        this.#session.disconnect()
      } catch {}
      this.#session = null
    }
  }
}

/**
 * Why there is no allocation profile to read.
 * @param {string} reason @param {string} [detail]
 */
function unavailable(reason, detail) {
  const why = {
    idle: 'the sampling heap profiler is not running (it runs on early growth with ' +
      '`attribution.when: \'growth\'`; `when: \'always\'` keeps it running)',
    busy: 'another inspector client stopped or owns the sampling heap profiler',
    unavailable: 'the inspector is unavailable',
    off: 'attribution is off (`attribution: false`, detection off, or no watcher running)',
  }[reason] || reason
  const err = withCode(Error, 'ERR_LEAKWATCH_PROFILE_UNAVAILABLE',
    `leakwatch: no allocation profile: ${why}${detail ? ` (${detail})` : ''}`)
  err.reason = reason
  return err
}

/** Groups live samples newer than `sinceOrdinal` by allocation stack; the `top` largest. */
/** @param {Profile} profile @param {number} sinceOrdinal @param {number} top */
function topSites(profile, sinceOrdinal, top) {
  /** @type {Map<number | null, { frame: CallFrame, parent: number | null }>} */
  const nodes = new Map()
  /** @type {{ node: ProfileNode, parent: number | null }[]} */
  const stack = [{ node: profile.head, parent: null }]
  while (stack.length) {
    const { node, parent } = /** @type {{ node: ProfileNode, parent: number | null }} */ (stack.pop())
    nodes.set(node.id, { frame: node.callFrame, parent })
    for (const child of node.children || []) stack.push({ node: child, parent: node.id })
  }
  const bytes = new Map()
  for (const s of profile.samples) {
    if (s.ordinal > sinceOrdinal) bytes.set(s.nodeId, (bytes.get(s.nodeId) || 0) + s.size)
  }
  return [...bytes.entries()]
    .sort((a, b) => b[1] - a[1])
    .slice(0, top)
    .map(([id, size]) => {
      const frames = []
      for (let n = nodes.get(id); n && n.frame.functionName !== '(root)'; n = nodes.get(n.parent)) {
        frames.push(n.frame)
      }
      // The site is the innermost frame with a source location: allocations inside builtins
      // (Array.from, JSON.parse, the V8 API) are charged to the script line that called them.
      const f = frames.find((fr) => fr.url && fr.lineNumber >= 0) || frames[0] ||
        { functionName: '(unknown)', url: '', lineNumber: -1, columnNumber: -1 }
      return {
        functionName: f.functionName,
        url: f.url,
        line: f.lineNumber + 1,
        column: f.columnNumber + 1,
        bytes: size,
        stack: frames.map((fr) => `${fr.functionName || '(anonymous)'} (${fr.url || '<unknown>'}:${fr.lineNumber + 1}:${fr.columnNumber + 1})`),
      }
    })
}

module.exports = { Attribution, unavailable }
