// @ts-check
'use strict'

// Diagnosis (`diagnose` option): from a `leak` to what leaks and who holds it, unattended.
//
// On a `leak`, one diagnosis at a time per watcher:
//   1. a guarded snapshot (trigger `leak`) into a directory of its own;
//   2. once the leaking metric has grown by a further margin (or after `maxWaitMs`), a second
//      one, and with `snapshots: 3` a third; every dump waits for the snapshot cooldown and
//      goes through the guard, so a refused dump ends the diagnosis with its reason;
//   3. the comparison runs in a separate process (lib/diagnosis-child.js) at the lowest CPU
//      priority, started only when the memory room holds what the analysis is expected to
//      need, killed if it outgrows that room or its time; it writes report.json and
//      report.html beside the snapshots;
//   4. a `leak-report` event with the leak's id: the growing classes, the growth groups with
//      their retainer paths and the container and holder read from them, the allocation
//      sites sampled between the first two dumps, and the files.
// A diagnosis that cannot finish still ends with a `leak-report` (status 'skipped' or
// 'failed', and why). Nothing here keeps the process alive, and nothing is emitted after
// stop().

const fs = require('node:fs')
const os = require('node:os')
const path = require('node:path')
const v8 = require('node:v8')
const { spawn } = require('node:child_process')
const { threadId } = require('node:worker_threads')
const { MiB, wholeMiB, formatBytes } = require('./bytes')
const { edgeText, terminalSafe } = require('./report-text')

const PREFIX = 'leakwatch-diagnosis-'
/** A diagnosis directory's name: PREFIX + time + pid + thread + sequence. */
const DIR_PATTERN = /^leakwatch-diagnosis-\d{8}-\d{6}\.\d{3}-\d+-\d+-\d+$/
const CHILD = path.join(__dirname, 'diagnosis-child.js')
/** Another process's unfinished diagnosis directory is left alone this long after its last change. */
const STALE_MS = 24 * 60 * 60 * 1000
/** The report.json the analysis leaves is read back only up to this size. */
const MAX_REPORT_BYTES = 64 * MiB
/** Rows of the diff the analysis keeps (report.json) and the event carries. */
const REPORT_LIMITS = { classes: 200, groups: 20 }
const EVENT_LIMITS = { classes: 10, groups: 5 }

/**
 * Memory the analysis process is expected to need for snapshots of `totalBytes`: measured
 * peaks of the three-snapshot diff (the leakwatch command, whole process) were 515 – 548 MB
 * for 255 MB of snapshots and 114 MB for 30 MB (docs/analysis.md, docs/diagnosis.md): twice the
 * files plus 96 MiB covers both.
 * @param {number} totalBytes
 */
function analysisNeed(totalBytes) {
  return 2 * totalBytes + 96 * MiB
}

/** Why a diagnosis ended early. */
class DiagnosisEnd extends Error {
  /** @param {'skipped' | 'failed'} status @param {string} reason @param {string} message */
  constructor(status, reason, message) {
    super(message)
    this.status = status
    this.reason = reason
    /** @type {{ profile?: string, statistics?: string } | undefined} */
    this.evidence = undefined
  }
}

const NAMED_EDGES = new Set(['property', 'shortcut', 'context'])

/**
 * Whether a property name is data (a key the program made up: a URL, an id) rather than a
 * name in the code: it has a separator that identifiers and event names lack, a run of three
 * digits, or is long.
 * @param {string} name
 */
function looksLikeData(name) {
  return name.length > 64 || /[/\\\s:?=@.]/.test(name) || /\d{3}/.test(name)
}

/**
 * The leaking container and who holds it, read from a growth group's retainer path: the
 * nearest step to the objects that holds by a name in the code (a property, a closure
 * variable) — `reference` — the object it leads to — `container` (the group's class itself
 * when the named step reaches the objects directly) — and the object holding that name —
 * `holder` (for a closure variable, the function whose scope it is).
 * @param {import('../index').RetainerPath} p
 * @returns {{ container: string | null, reference: string | null, holder: string | null }}
 */
function culpritOf(p) {
  const none = { container: null, reference: null, holder: null }
  if (!p || p.unreachable) return none
  const steps = p.steps
  for (let i = steps.length - 1; i >= 0; i--) {
    const step = steps[i]
    if (!NAMED_EDGES.has(step.edgeType) || looksLikeData(step.edge)) continue
    const container = i + 1 < steps.length ? steps[i + 1].holder : p.target
    let holder = step.holder
    if (step.edgeType === 'context' && i > 0) {
      holder = `${steps[i - 1].holder} (its scope)`
    } else if (holder === 'Object' && i > 0 && NAMED_EDGES.has(steps[i - 1].edgeType)) {
      // A plain bag of properties says little; what holds it does (EventEmitter._events).
      holder = `${steps[i - 1].holder}${edgeText(steps[i - 1])}`
    }
    return { container, reference: step.edge, holder }
  }
  return none
}

/**
 * A growth group's path on one line, the way a person says it: names in the code, the
 * objects between them, internal arrays and scopes left out, the far end elided.
 * `global.server → … → contextsByRequest → Map → ReportContext ×600, +1.55 MB`
 * @param {{ name: string, count: number, retainedSize: number, path: import('../index').RetainerPath }} group
 */
function groupLine(group) {
  const p = group.path
  const end = `${terminalSafe(group.name)} ×${group.count.toLocaleString('en-US')}, +${formatBytes(group.retainedSize)}`
  if (!p || p.unreachable) return `(only weakly reachable) → ${end}`
  /** @type {string[]} */
  const parts = []
  for (const step of p.steps) {
    const holder = terminalSafe(step.holder)
    const internal = /^\([^)]*\)$/.test(holder) || holder.startsWith('system /')
    if (step.edgeType === 'context') parts.push(terminalSafe(step.edge))
    else if (NAMED_EDGES.has(step.edgeType)) parts.push(`${internal ? '' : holder}${terminalSafe(edgeText(step))}`)
    else if (!internal) parts.push(holder)
  }
  const deduped = parts.filter((part, i) => part !== parts[i - 1])
  const shown = deduped.length > 6 ? [deduped[0], '…', ...deduped.slice(-5)] : deduped
  if (p.truncated && shown[0] !== '…') shown.unshift('…')
  return [...shown, end].join(' → ')
}

/** `YYYYMMDD-HHMMSS.mmm`, UTC: diagnosis directories sort by time. @param {Date} d */
function stamp(d) {
  return d.toISOString().replace(/[-:]/g, '').replace('T', '-').replace('Z', '')
}

/**
 * One watcher's diagnoses.
 */
class Diagnoses {
  /** @type {import('./options').DiagnoseOptions} */
  #options
  /** @type {InstanceType<typeof import('./snapshot').Snapshots>} */
  #snapshots
  /** @type {{ sites(start: Date): { sites: any[], status: string, message?: string, since?: Date } } | null} */
  #attribution
  /** @type {import('./native').Binding} */
  #native
  /** @type {(metric: string) => number | null} */
  #level
  /** @type {(event: string, payload: object) => void} */
  #emit
  #pollMs
  /** @type {{ leakId: string, metric: string, stoppedGrowing: boolean } | null} */
  #running = null
  #lastEnd = -Infinity
  #seq = 0
  #stopped = false
  /** @type {Set<() => void>} wakes pending waits (stop(), leak-stopped) */
  #waiters = new Set()
  /** @type {import('node:child_process').ChildProcess | null} */
  #child = null

  /**
   * @param {import('./options').DiagnoseOptions} options
   * @param {{ snapshots: InstanceType<typeof import('./snapshot').Snapshots>, attribution: any, native: import('./native').Binding,
   *   level: (metric: string) => number | null, emit: (event: string, payload: object) => void, pollMs: number }} context
   */
  constructor(options, { snapshots, attribution, native, level, emit, pollMs }) {
    this.#options = options
    this.#snapshots = snapshots
    this.#attribution = attribution
    this.#native = native
    this.#level = level
    this.#emit = emit
    this.#pollMs = Math.max(100, Math.min(pollMs, 1000))
  }

  /**
   * Called for every `leak` (its `id` set). Returns what the leak's `diagnosis` field says:
   * 'started' (a `leak-report` with this id follows), 'running' (another leak's diagnosis is
   * under way) or 'cooldown' (one ended less than `cooldownMs` ago).
   * @param {any} leak
   * @returns {'started' | 'running' | 'cooldown'}
   */
  onLeak(leak) {
    if (this.#running) return 'running'
    if (Date.now() - this.#lastEnd < this.#options.cooldownMs) return 'cooldown'
    const running = { leakId: leak.id, metric: leak.metric, stoppedGrowing: false }
    this.#running = running
    this.#diagnose(leak, running).finally(() => {
      this.#running = null
      this.#lastEnd = Date.now()
    }).catch(() => {})
    return 'started'
  }

  /** Called for every `leak-stopped`. @param {{ metric: string }} payload */
  onLeakStopped(payload) {
    if (this.#running && this.#running.metric === payload.metric) {
      this.#running.stoppedGrowing = true
      this.#wake()
    }
  }

  /** Ends a running diagnosis silently: its analysis process is killed, its files stay. */
  stop() {
    this.#stopped = true
    if (this.#child) this.#child.kill('SIGKILL')
    this.#wake()
  }

  #wake() {
    for (const wake of [...this.#waiters]) wake()
  }

  /** Waits `ms` (or until woken); never keeps the process alive. @param {number} ms */
  #sleep(ms) {
    return new Promise((resolve) => {
      const done = () => {
        clearTimeout(timer)
        this.#waiters.delete(done)
        resolve(undefined)
      }
      const timer = setTimeout(done, ms)
      timer.unref()
      this.#waiters.add(done)
    })
  }

  /**
   * @param {any} leak @param {{ leakId: string, metric: string, stoppedGrowing: boolean }} running
   */
  async #diagnose(leak, running) {
    const startedAt = new Date()
    const options = this.#options
    /** @type {{ path: string, time: Date, level: number | null, bytes: number, durationMs: number }[]} */
    const dumps = []
    /** @type {any} */
    let sites = null
    /** @type {string[]} */
    const notes = []
    /** @type {string | null} */
    let dir = null
    const base = () => ({ leakId: running.leakId, metric: running.metric, startedAt, dir, dumps, sites, notes })
    try {
      // After the `leak` event's listeners: the dump blocks this thread.
      await new Promise((resolve) => setImmediate(resolve))
      if (this.#stopped) return
      dir = this.#makeDir(startedAt)
      await this.#dump(dir, dumps, running)
      const margin = options.growthBytes ?? Math.max(MiB, Math.round(Number(leak.growth) || 0))
      for (let k = 2; k <= options.snapshots; k++) {
        const grown = await this.#awaitGrowth(running, dumps[dumps.length - 1], margin)
        if (grown === 'stopped') {
          if (k === 2) {
            throw new DiagnosisEnd('skipped', 'stopped-growing',
              `the ${running.metric} growth stopped before a second snapshot`)
          }
          notes.push(`the ${running.metric} growth stopped before snapshot ${k}: compared ${k - 1} snapshots`)
          break
        }
        if (grown === 'timeout') {
          notes.push(`snapshot ${k} taken after maxWaitMs (${options.maxWaitMs} ms) with less than ` +
            `${formatBytes(margin)} of further ${running.metric} growth`)
        }
        if (k === 2 && this.#attribution) sites = this.#attribution.sites(dumps[0].time)
        try {
          await this.#dump(dir, dumps, running)
        } catch (err) {
          if (!(err instanceof DiagnosisEnd) || dumps.length < 2) throw err
          notes.push(`${err.message}: compared ${dumps.length} snapshots`)
          break
        }
      }
      const analysis = await this.#analyse(dir, dumps)
      if (this.#stopped) return
      this.#emit('leak-report', complete(base(), analysis))
    } catch (err) {
      if (this.#stopped) return
      const end = err instanceof DiagnosisEnd ? err
        : new DiagnosisEnd('failed', 'internal', `leakwatch's diagnosis failed: ${err instanceof Error ? err.message : String(err)}`)
      this.#emit('leak-report', incomplete(base(), end))
    }
  }

  /** Creates this diagnosis's directory and removes the oldest beyond `maxReports`. @param {Date} at */
  #makeDir(at) {
    const parent = this.#snapshots.dir
    const name = `${PREFIX}${stamp(at)}-${process.pid}-${threadId}-${this.#seq++}`
    const dir = path.join(parent, name)
    try {
      fs.mkdirSync(parent, { recursive: true })
      fs.mkdirSync(dir, { mode: 0o700 })
    } catch (err) {
      const e = /** @type {NodeJS.ErrnoException} */ (err)
      throw new DiagnosisEnd('failed', 'directory', `cannot create ${dir}: ${e.code || e.message}`)
    }
    try {
      const old = fs.readdirSync(parent).filter((n) => DIR_PATTERN.test(n) && n !== name).sort()
      const ours = `-${process.pid}-${threadId}-`
      for (const n of old.slice(0, Math.max(0, old.length - (this.#options.maxReports - 1)))) {
        const where = path.join(parent, n)
        // Another process's or thread's diagnosis may still be running (cluster workers
        // sharing a directory): removed only once finished, or a day after its last change.
        if (!n.includes(ours) && !fs.existsSync(path.join(where, 'report.json')) &&
          Date.now() - fs.statSync(where).mtimeMs < STALE_MS) continue
        fs.rmSync(where, { recursive: true, force: true })
      }
    } catch {
      // Pruning is best effort: the new diagnosis goes ahead.
    }
    return dir
  }

  /** Waits out the snapshot cooldown (woken by stop()). */
  async #cooldown() {
    for (let left = this.#snapshots.cooldownLeft(); left > 0 && !this.#stopped; left = this.#snapshots.cooldownLeft()) {
      await this.#sleep(Math.min(left, 60_000))
    }
  }

  /**
   * One guarded dump into `dir`; a skip or a failure ends the diagnosis.
   * @param {string} dir @param {{ path: string, time: Date, level: number | null, bytes: number, durationMs: number }[]} dumps
   * @param {{ metric: string }} running
   */
  async #dump(dir, dumps, running) {
    await this.#cooldown()
    if (this.#stopped) throw new DiagnosisEnd('skipped', 'stopped', 'leakwatch was stopped')
    const file = path.join(dir, `snapshot-${dumps.length + 1}.heapsnapshot`)
    let info
    try {
      info = await this.#snapshots.dumpTo(file)
    } catch (err) {
      const e = /** @type {any} */ (err)
      if (e && e.code === 'ERR_LEAKWATCH_SNAPSHOT_SKIPPED') {
        const end = new DiagnosisEnd('skipped', 'snapshot-skipped', `snapshot ${dumps.length + 1}: ${String(e.message).replace(/^leakwatch: /, '')}`)
        // What the refused dump left instead (allocation profile, heap statistics).
        if (e.evidence) end.evidence = e.evidence
        throw end
      }
      throw new DiagnosisEnd('failed', 'snapshot-failed',
        `snapshot ${dumps.length + 1} failed: ${e && e.message ? String(e.message).replace(/^leakwatch: /, '') : String(e)}`)
    }
    dumps.push({ path: info.path, time: new Date(), level: levelAfterDump(running.metric), bytes: info.bytes, durationMs: info.durationMs })
  }

  /**
   * Until the metric stands `margin` above its level at the last dump, the leak stops
   * (`leak-stopped`), or `maxWaitMs` passes.
   * @param {{ metric: string, stoppedGrowing: boolean }} running
   * @param {{ time: Date, level: number | null }} last @param {number} margin
   * @returns {Promise<'grown' | 'stopped' | 'timeout'>}
   */
  async #awaitGrowth(running, last, margin) {
    const deadline = last.time.getTime() + this.#options.maxWaitMs
    for (;;) {
      if (this.#stopped) throw new DiagnosisEnd('skipped', 'stopped', 'leakwatch was stopped')
      if (running.stoppedGrowing) return 'stopped'
      const level = this.#level(running.metric)
      if (level !== null && last.level !== null && level >= last.level + margin) return 'grown'
      const left = deadline - Date.now()
      if (left <= 0) return 'timeout'
      await this.#sleep(Math.min(left, this.#pollMs))
    }
  }

  /**
   * Runs the comparison in its own process when the room holds it.
   * @param {string} dir @param {{ path: string, bytes: number }[]} dumps
   */
  async #analyse(dir, dumps) {
    const total = dumps.reduce((sum, d) => sum + d.bytes, 0)
    const need = analysisNeed(total)
    let room = null
    try {
      room = this.#native.memoryRoom(this.#snapshots.memoryLimitBytes ?? undefined)
    } catch {
      // Unreadable: the analysis goes ahead, watched against its expected need alone.
    }
    if (room && room.bytes < need) {
      throw new DiagnosisEnd('skipped', 'analysis-memory',
        `the analysis needs ${wholeMiB(need)} of memory (twice the ${wholeMiB(total)} of snapshots ` +
        `and 96 MB), ${room.bound} leaves ${wholeMiB(room.bytes)}; the snapshots are kept for ` +
        '`leakwatch diff` elsewhere')
    }
    const json = path.join(dir, 'report.json')
    const html = path.join(dir, 'report.html')
    // Killed past the room it was started in, or past twice its expected need without one.
    const cap = room ? room.bytes : 2 * need
    const run = await this.#runChild({ files: dumps.map((d) => d.path), json, html, ...REPORT_LIMITS }, cap)
    if (this.#stopped) return null
    let report
    try {
      const size = fs.statSync(json).size
      if (size > MAX_REPORT_BYTES) throw new Error(`report.json is ${wholeMiB(size)}`)
      report = JSON.parse(fs.readFileSync(json, 'utf8'))
    } catch (err) {
      throw new DiagnosisEnd('failed', 'analysis-failed',
        `the analysis's report could not be read: ${err instanceof Error ? err.message : String(err)}`)
    }
    return { report, json, html, needBytes: need, roomBytes: room ? room.bytes : null, bound: room ? room.bound : null, ...run }
  }

  /**
   * @param {{ files: string[], json: string, html: string, classes: number, groups: number }} job @param {number} capBytes
   * @returns {Promise<{ durationMs: number, peakRssBytes: number | null }>}
   */
  #runChild(job, capBytes) {
    return new Promise((resolve, reject) => {
      const started = Date.now()
      const env = { ...process.env }
      delete env.NODE_OPTIONS
      let child
      try {
        // The IPC channel is the child's lifeline: when this process ends, it closes and the
        // child exits (lib/diagnosis-child.js), so no analysis outlives its server unwatched.
        child = spawn(process.execPath, [CHILD, JSON.stringify(job)], { stdio: ['ignore', 'pipe', 'pipe', 'ipc'], env, windowsHide: true })
      } catch (err) {
        reject(new DiagnosisEnd('failed', 'analysis-failed', `cannot start the analysis process: ${err instanceof Error ? err.message : String(err)}`))
        return
      }
      this.#child = child
      const pid = child.pid
      if (pid !== undefined) {
        try {
          os.setPriority(pid, os.constants.priority.PRIORITY_LOW)
        } catch {}
        try {
          // First in line for the kernel's OOM killer, before the server.
          fs.writeFileSync(`/proc/${pid}/oom_score_adj`, '1000')
        } catch {}
      }
      // Neither the process nor its pipes nor its channel keep the server's event loop alive.
      child.unref()
      const channel = /** @type {any} */ (child).channel
      if (channel && typeof channel.unref === 'function') channel.unref()
      for (const stream of [child.stdout, child.stderr]) {
        const s = /** @type {any} */ (stream)
        if (s && typeof s.unref === 'function') s.unref()
      }
      let stderr = ''
      if (child.stderr) {
        child.stderr.setEncoding('utf8')
        child.stderr.on('data', (d) => { if (stderr.length < 16 * 1024) stderr += d })
      }
      if (child.stdout) child.stdout.resume()
      let peak = /** @type {number | null} */ (null)
      /** @type {string | null} */
      let killedFor = null
      const watch = setInterval(() => {
        const rss = residentBytes(pid)
        if (rss === null) return
        peak = Math.max(peak ?? 0, rss)
        if (rss > capBytes && !killedFor) {
          killedFor = `its resident memory reached ${wholeMiB(rss)}, past the ${wholeMiB(capBytes)} it was started with`
          child.kill('SIGKILL')
        }
      }, 100)
      watch.unref()
      const timeout = setTimeout(() => {
        killedFor = `it ran past analysisTimeoutMs (${this.#options.analysisTimeoutMs} ms)`
        child.kill('SIGKILL')
      }, this.#options.analysisTimeoutMs)
      timeout.unref()
      child.on('error', (err) => {
        killedFor = killedFor || err.message
      })
      child.on('close', (code, signal) => {
        clearInterval(watch)
        clearTimeout(timeout)
        this.#child = null
        const durationMs = Date.now() - started
        if (code === 0) {
          resolve({ durationMs, peakRssBytes: peak })
          return
        }
        removeTemporaries(job)
        let why = killedFor
        if (!why) {
          try {
            const last = stderr.trim().split('\n').pop() || ''
            const parsed = JSON.parse(last)
            why = `${parsed.code}: ${parsed.message}`
          } catch {
            why = signal ? `it ended on ${signal}` : `it exited with ${code}: ${stderr.trim().slice(0, 500)}`
          }
        }
        reject(new DiagnosisEnd('failed', 'analysis-failed', `the analysis process failed: ${why}`))
      })
    })
  }
}

/**
 * Removes what a killed analysis left under a temporary name beside its reports
 * (lib/atomic-file.js names them `<report>.<hex>.tmp`).
 * @param {{ json?: string, html?: string }} job
 */
function removeTemporaries(job) {
  for (const report of [job.json, job.html]) {
    if (!report) continue
    try {
      const base = `${path.basename(report)}.`
      for (const n of fs.readdirSync(path.dirname(report))) {
        if (n.startsWith(base) && n.endsWith('.tmp')) fs.rmSync(path.join(path.dirname(report), n), { force: true })
      }
    } catch {}
  }
}

/** Resident bytes of process `pid` (Linux), or null. @param {number | undefined} pid */
function residentBytes(pid) {
  if (pid === undefined || process.platform !== 'linux') return null
  try {
    const m = /VmRSS:\s+(\d+) kB/.exec(fs.readFileSync(`/proc/${pid}/status`, 'utf8'))
    return m ? Number(m[1]) * 1024 : null
  } catch {
    return null
  }
}

/**
 * The metric right after a dump (which ran full GCs first): live heap, external memory or RSS.
 * @param {string} metric
 */
function levelAfterDump(metric) {
  try {
    if (metric === 'heap') return v8.getHeapStatistics().used_heap_size
    if (metric === 'external') return process.memoryUsage().external
    return process.memoryUsage.rss()
  } catch {
    return null
  }
}

/** @param {any} base */
function common(base) {
  return {
    leakId: base.leakId,
    metric: base.metric,
    startedAt: base.startedAt,
    durationMs: Date.now() - base.startedAt.getTime(),
    snapshots: base.dumps.map((/** @type {any} */ d) => ({ path: d.path, time: d.time, level: d.level, bytes: d.bytes, durationMs: d.durationMs })),
    longestPauseMs: base.dumps.reduce((/** @type {number} */ m, /** @type {any} */ d) => Math.max(m, d.durationMs), 0),
    notes: base.notes,
  }
}

/** @param {any} base @param {any} analysis */
function complete(base, analysis) {
  const { report } = analysis
  const classes = report.classes
    .filter((/** @type {any} */ r) => r.sizeDelta > 0)
    .slice(0, EVENT_LIMITS.classes)
    .map((/** @type {any} */ r) => ({
      name: r.name, countDelta: r.countDelta, sizeDelta: r.sizeDelta, addedCount: r.addedCount, removedCount: r.removedCount,
    }))
  const groups = report.growth.slice(0, EVENT_LIMITS.groups).map((/** @type {any} */ g) => ({
    name: g.name,
    count: g.count,
    selfSize: g.selfSize,
    retainedSize: g.retainedSize,
    ...culpritOf(g.path),
    line: groupLine(g),
    path: g.path,
    ids: g.ids,
  }))
  const first = groups[0]
  const held = first && first.reference
    ? `${first.name} ×${first.count.toLocaleString('en-US')} (+${formatBytes(first.retainedSize)}) in ${first.container}, ` +
      `held by ${first.holder} through "${first.reference}"`
    : first ? `${first.name} ×${first.count.toLocaleString('en-US')} (+${formatBytes(first.retainedSize)}): ${first.line}` : null
  const message = held
    ? `leakwatch: ${base.metric} leak diagnosed: ${held}`
    : `leakwatch: ${base.metric} leak: nothing that grew between the snapshots is still held in the JS heap ` +
      '(the growth is outside it, or stopped)'
  return {
    ...common(base),
    status: 'complete',
    message,
    growthBasis: report.growthBasis,
    classes,
    groups,
    topAllocations: base.sites ? base.sites.sites : [],
    attribution: base.sites ? stateOf(base.sites) : { status: 'off' },
    files: { dir: base.dir, snapshots: base.dumps.map((/** @type {any} */ d) => d.path), json: analysis.json, html: analysis.html },
    analysis: { durationMs: analysis.durationMs, peakRssBytes: analysis.peakRssBytes, needBytes: analysis.needBytes, roomBytes: analysis.roomBytes, bound: analysis.bound },
  }
}

/** @param {{ status: string, message?: string, since?: Date }} sites */
function stateOf({ status, message, since }) {
  /** @type {Record<string, unknown>} */
  const out = { status }
  if (message !== undefined) out.message = message
  if (since !== undefined) out.since = since
  return out
}

/** @param {any} base @param {DiagnosisEnd} end */
function incomplete(base, end) {
  return {
    ...common(base),
    status: end.status,
    reason: end.reason,
    message: `leakwatch: the ${base.metric} leak's diagnosis ${end.status === 'skipped' ? 'stopped' : 'failed'}: ${end.message}`,
    files: {
      dir: base.dir,
      snapshots: base.dumps.map((/** @type {any} */ d) => d.path),
      ...(end.evidence ? { evidence: end.evidence } : {}),
    },
  }
}

module.exports = { Diagnoses, culpritOf, groupLine, looksLikeData, analysisNeed }
