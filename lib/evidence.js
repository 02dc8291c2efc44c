// @ts-check
'use strict'

// Evidence files other than snapshots: the sampling allocation profile as pprof
// (`….pb.gz`, lib/pprof.js) and V8's heap statistics (`….heapstats.json`). They are named as
// leakwatch's snapshots are (`leakwatch-<UTC time>-<pid>-<thread>-<seq>-<trigger>`, sorting
// by time), written under a temporary name (`.<name>.partial`) and renamed when complete, and
// the oldest beyond `maxFiles` of each kind in a directory are removed. Every write is
// synchronous: a payload names a file only once it exists, and these are kilobytes.

const fs = require('node:fs')
const path = require('node:path')
const v8 = require('node:v8')
const { threadId } = require('node:worker_threads')
const { withCode, invalidArgument } = require('./errors')
const { unavailable } = require('./attribution')
const { gzipProfile } = require('./pprof')

const PROFILE_SUFFIX = '.pb.gz'
const STATISTICS_SUFFIX = '.heapstats.json'
const NAME = /^leakwatch-\d{8}-\d{6}\.\d{3}-\d+-\d+-\d+-[a-z0-9-]+\.(pb\.gz|heapstats\.json)$/

let seq = 0

/** `leakwatch-20261129-221502.123-4242-0-7-leak` + suffix, for now. @param {string} trigger @param {string} suffix */
function fileName(trigger, suffix) {
  const iso = new Date().toISOString() // 2026-11-29T22:15:02.123Z
  const date = iso.slice(0, 10).replaceAll('-', '')
  const time = iso.slice(11, 23).replaceAll(':', '')
  return `leakwatch-${date}-${time}-${process.pid}-${threadId}-${seq++}-${trigger}${suffix}`
}

/**
 * Writes `data` to `file` whole or not at all. Throws ERR_LEAKWATCH_EVIDENCE_WRITE with
 * `errno`, `syscall` and `file`.
 * @param {string} file @param {Buffer | string} data
 */
function writeWhole(file, data) {
  const partial = path.join(path.dirname(file), `.${path.basename(file)}.partial`)
  let created = false
  try {
    fs.writeFileSync(partial, data, { mode: 0o600, flag: 'wx' })
    created = true
    fs.renameSync(partial, file)
  } catch (cause) {
    // Another writer's partial file (EEXIST) is theirs to remove.
    if (created) {
      try {
        fs.rmSync(partial, { force: true })
      } catch {}
    }
    throw writeError(file, cause)
  }
}

/**
 * ERR_LEAKWATCH_EVIDENCE_WRITE for `file`, with the OS error's name and call when it has them.
 * @param {string} file @param {unknown} cause
 */
function writeError(file, cause) {
  const e = /** @type {NodeJS.ErrnoException} */ (cause)
  const err = withCode(Error, 'ERR_LEAKWATCH_EVIDENCE_WRITE', `leakwatch: cannot write ${file}: ${e && e.message}`)
  if (e && e.code) err.errno = e.code
  if (e && e.syscall) err.syscall = e.syscall
  err.file = file
  err.cause = cause
  return err
}

/**
 * Runs `build` (the file's content), keeping its failures coded: any exception becomes
 * ERR_LEAKWATCH_EVIDENCE_WRITE.
 * @template T @param {string} what @param {() => T} build @returns {T}
 */
function coded(what, build) {
  try {
    return build()
  } catch (err) {
    if (String(/** @type {any} */ (err)?.code).startsWith('ERR_LEAKWATCH_')) throw err
    const failure = writeError(what, err)
    delete failure.file // no file was reached
    throw failure
  }
}

/**
 * Removes the oldest leakwatch files ending in `suffix` in `dir` beyond `keep`, never `justWritten`.
 * @param {string} dir @param {string} suffix @param {number} keep @param {string} justWritten
 */
function prune(dir, suffix, keep, justWritten) {
  const names = fs.readdirSync(dir).filter((n) => n.endsWith(suffix) && NAME.test(n)).sort()
  for (const name of names.slice(0, Math.max(0, names.length - keep))) {
    const file = path.join(dir, name)
    if (file !== justWritten) fs.rmSync(file, { force: true })
  }
}

/**
 * Where a file goes: exactly `file`, or a generated name in `dir` (then pruned to `keep`).
 * @param {{ dir?: string, file?: string }} where @param {string} trigger @param {string} suffix
 * @param {Buffer | string} data @param {number} [keep]
 */
function place(where, trigger, suffix, data, keep) {
  const file = where.file || path.join(/** @type {string} */ (where.dir), fileName(trigger, suffix))
  writeWhole(file, data)
  if (!where.file && keep != null) {
    try {
      prune(/** @type {string} */ (where.dir), suffix, keep, file)
    } catch {
      // Housekeeping only: the file itself is written.
    }
  }
  return file
}

/**
 * A sampling heap profile as a gzipped pprof file.
 * @param {{ dir?: string, file?: string }} where
 * @param {string} trigger
 * @param {{ profile: import('./attribution').Profile, samplingInterval: number, sinceOrdinal?: number,
 *   startTime?: number }} read what Attribution#read returned
 * @param {number} [keep] maxFiles
 */
function writeProfile(where, trigger, read, keep) {
  const data = coded(`the ${trigger} profile`, () => gzipProfile(read.profile, read))
  let liveBytes = 0
  const stacks = new Set()
  for (const s of read.profile.samples) {
    if (s.ordinal <= (read.sinceOrdinal || 0)) continue
    liveBytes += s.size
    stacks.add(s.nodeId)
  }
  return { path: place(where, trigger, PROFILE_SUFFIX, data, keep), bytes: data.length, liveBytes, stacks: stacks.size }
}

/**
 * `leakwatch.writeHeapProfile(path?)`: every live sample of the running watcher's sampling
 * heap profiler as a gzipped pprof file. `path`: a file, or a directory for a generated name;
 * default `dir`. Rejects with ERR_LEAKWATCH_PROFILE_UNAVAILABLE (`reason`: 'off' | 'idle' |
 * 'busy' | 'unavailable') or ERR_LEAKWATCH_EVIDENCE_WRITE.
 * @param {unknown} p
 * @param {{ readHeapProfile(): import('./attribution').Read } | null} watcher the running one
 * @param {string} dir @param {number} keep maxFiles, for a generated name
 */
async function writeHeapProfile(p, watcher, dir, keep) {
  /** @type {{ dir?: string, file?: string }} */
  let where = { dir }
  if (p !== undefined) {
    if (typeof p !== 'string' || p.length === 0) {
      throw invalidArgument('writeHeapProfile(path)', 'a non-empty string or undefined', p)
    }
    const resolved = path.resolve(p)
    let isDir = p.endsWith('/') || p.endsWith(path.sep)
    try {
      isDir = isDir || fs.statSync(resolved).isDirectory()
    } catch {}
    where = isDir ? { dir: resolved } : { file: resolved }
  }
  if (!watcher) throw unavailable('off')
  const read = watcher.readHeapProfile()
  const written = writeProfile(where, 'api', read, keep)
  return { ...written, since: new Date(read.startTime) }
}

/**
 * V8's heap, per-space and code statistics, RSS and what malloc holds, as JSON (2.3 kB on Node 20).
 * Per-type object counts are not included: V8 keeps them only under --track-gc-object-stats.
 * @param {{ dir: string }} where @param {string} trigger
 * @param {import('./native').Binding} native @param {number} [keep]
 */
function writeStatistics(where, trigger, native, keep) {
  const stats = coded(`the ${trigger} heap statistics`, () => statistics(trigger, native))
  return place(where, trigger, STATISTICS_SUFFIX, `${JSON.stringify(stats, null, 1)}\n`, keep)
}

/** @param {string} trigger @param {import('./native').Binding} native */
function statistics(trigger, native) {
  let rss = null
  try {
    rss = process.memoryUsage.rss()
  } catch {
    // EMFILE: no descriptor left to read /proc with; the rest still fits.
  }
  return {
    time: Date.now(),
    pid: process.pid,
    threadId,
    trigger,
    source: 'javascript',
    heap: v8.getHeapStatistics(),
    spaces: v8.getHeapSpaceStatistics(),
    code: v8.getHeapCodeStatistics(),
    rss,
    malloc: mallocFigures(native),
  }
}

/**
 * What malloc holds, with `inUse` counting mmapped chunks too (as the `leak` payload's
 * `malloc.inUse`), or null where mallinfo2() is missing.
 * @param {import('./native').Binding} native
 */
function mallocFigures(native) {
  const m = typeof native.mallocFigures === 'function' ? native.mallocFigures() : null
  return m ? { inUse: m.inUse + m.mmapped, free: m.free, mmapped: m.mmapped, arena: m.arena } : null
}

module.exports = { writeProfile, writeStatistics, writeHeapProfile, fileName, PROFILE_SUFFIX, STATISTICS_SUFFIX }
