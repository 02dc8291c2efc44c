'use strict'

// Leak detection on natural GC schedules: every workload of ./workloads.js, once with
// leakwatch (default options) and once with memwatch's rule (transcribed on perf_hooks),
// each in its own child process, all in one run. Prints detected / missed / false alarms and
// the seconds to the first `leak` per workload, then the summary.
//
//   node bench/detection/run.js [--seconds 60] [--jobs 3] [--only a,b] [--options JSON] [--json]
//        [--heap-mb N]   (--heap-mb: every child runs with --max-old-space-size=N, as in a
//                         container; pair it with --options '{"detection":{"memoryLimitBytes":…}}')
//        [--leak-after S]  (the healthy part of a workload with leakAfterS, default its own)
//        [--detectors leakwatch,memwatch]  (which to run; both by default)
//        [--from FILE]  (print the table of an earlier --json output instead of running)
//
// --seconds is how long each process is watched, counted from the start of the leak for a
// workload whose leak starts late (it runs leakAfterS + seconds; a `leak` before the leak
// starts is a false alarm, and its time to `leak` counts from the leak's start). A deploy
// workload is two processes of --seconds each, the second started when the first exits; a
// leak is found when both processes report it, a non-leak must be silent in both.

const { spawn } = require('node:child_process')
const path = require('node:path')
const { WORKLOADS } = require('./workloads')
const { option, median, pool, markdownTable } = require('../common')

const argv = process.argv.slice(2)
const value = (name, fallback) => option(argv, name, fallback)
const seconds = Number(value('--seconds', 60))
const jobs = Number(value('--jobs', 3))
const only = value('--only', null)
const options = value('--options', '{}')
const asJson = argv.includes('--json')
const heapMb = value('--heap-mb', null)
const leakAfter = value('--leak-after', null)
const detectors = value('--detectors', 'leakwatch,memwatch').split(',')
const from = value('--from', null)
const nodeArgs = heapMb ? [`--max-old-space-size=${Number(heapMb)}`] : []

function runOne({ workload, detector }) {
  return new Promise((resolve) => {
    const healthyS = healthySeconds(workload)
    const args = [...nodeArgs, path.join(__dirname, 'child.js'), workload.name, '--detector', detector, '--seconds', String(healthyS + seconds), '--options', options]
    if (workload.leakAfterS) args.push('--leak-after', String(healthyS))
    const child = spawn(process.execPath, args, { stdio: ['ignore', 'pipe', 'pipe'] })
    let out = ''
    let err = ''
    child.stdout.on('data', (d) => { out += d })
    child.stderr.on('data', (d) => { err += d })
    child.on('close', (code) => {
      const line = out.trim().split('\n').pop()
      try {
        resolve({ ...JSON.parse(line), code, stderr: err })
      } catch {
        resolve({ workload: workload.name, leaks: workload.leaks, detector, code, error: `${err}${out}`.slice(0, 500), found: [] })
      }
    })
  })
}

/** Seconds before a workload's leak starts (0 for most). */
function healthySeconds(workload) {
  return workload.leakAfterS ? Number(leakAfter ?? workload.leakAfterS) : 0
}

/** When a `leak` came, on which metric, and (leakwatch's) how far its limit was at that rate. */
function at(e) {
  const ttl = Number.isFinite(e.timeToLimitMs) ? `, ${minutes(e.timeToLimitMs)} to the limit` : ''
  return `${(e.tInProcess ?? e.t).toFixed(1)} s${e.metric ? ` (${e.metric}${ttl})` : ''}`
}

function minutes(ms) {
  return ms >= 3_600_000 ? `${(ms / 3_600_000).toFixed(1)} h` : `${(ms / 60_000).toFixed(1)} min`
}

/**
 * One run judged: `falseAlarm` (a `leak` from a non-leak, or before a late leak started),
 * `detected` and `seconds` to the first `leak` (from the leak's start), and the table cell.
 */
function judge(workload, run) {
  const healthyS = healthySeconds(workload)
  const early = run.found.filter((e) => e.t < healthyS)
  if (!workload.leaks || early.length > 0) {
    const e = (workload.leaks ? early : run.found)[0]
    if (!e) return { falseAlarm: false, detected: false, cell: 'none (correct)' }
    const where = e.phase ? `, process ${e.phase}` : workload.leaks ? ', before the leak started' : ''
    return { falseAlarm: true, detected: false, cell: `FALSE ALARM at ${at(e)}${where}` }
  }
  const found = run.found.filter((e) => e.t >= healthyS)
  if (workload.deploy) {
    const [first, again] = [1, 2].map((n) => found.find((e) => e.phase === n))
    const cell = `${first ? at(first) : 'missed'}; new process: ${again ? at(again) : 'missed'}`
    return { falseAlarm: false, detected: Boolean(first && again), seconds: first && first.t, cell }
  }
  if (found.length === 0) return { falseAlarm: false, detected: false, cell: 'missed' }
  const seconds = found[0].t - healthyS
  const cell = healthyS ? `${at(found[0])}, ${seconds.toFixed(1)} s after it started` : at(found[0])
  return { falseAlarm: false, detected: true, seconds, cell }
}

function summarise(runs) {
  const judged = runs.map((r) => ({ leaks: r.leaks, ...judge(WORKLOADS.find((w) => w.name === r.workload), r) }))
  const leaky = judged.filter((j) => j.leaks)
  const times = leaky.filter((j) => j.detected).map((j) => j.seconds)
  return {
    detected: times.length,
    missed: leaky.filter((j) => !j.detected && !j.falseAlarm).length,
    falseAlarms: judged.filter((j) => j.falseAlarm).length,
    medianSeconds: median(times),
  }
}

async function main() {
  const started = Date.now()
  let selected = only ? WORKLOADS.filter((w) => only.split(',').includes(w.name)) : WORKLOADS
  let results
  if (from) {
    results = JSON.parse(require('node:fs').readFileSync(from, 'utf8'))
    selected = selected.filter((w) => results.some((r) => r.workload === w.name))
  } else {
    const runs = selected.flatMap((workload) => detectors.map((detector) => ({ workload, detector })))
    results = await pool(runs.map((run) => () => runOne(run)), jobs)
  }
  if (asJson) {
    console.log(JSON.stringify(results, null, 2))
    return
  }
  const of = (detector) => results.filter((r) => r.detector === detector)
  const ran = ['leakwatch', 'memwatch'].filter((d) => of(d).length > 0)
  const rows = selected.map((w) => [w.name, w.leaks ? 'leak' : 'no leak', ...ran.flatMap((d) => {
    const r = of(d).find((x) => x.workload === w.name)
    return [judge(w, r).cell, d === 'leakwatch' ? `${r.fullGcs ?? '?'} (${r.requestedGcs ?? 0} requested)` : String(r.fullGcs ?? '?')]
  })])
  const title = { leakwatch: 'leakwatch: first leak', memwatch: "memwatch's rule: first leak" }
  const header = ['workload', 'truth', ...ran.flatMap((d) => [title[d], 'full GCs'])]
  console.log(markdownTable(header, rows))
  console.log('')
  const fmt = (s) => `detected ${s.detected}/${s.detected + s.missed}, missed ${s.missed}, false alarms ${s.falseAlarms}, ` +
    `median time to first leak ${s.medianSeconds === null ? '-' : `${s.medianSeconds.toFixed(1)} s`}`
  const label = { leakwatch: 'leakwatch:      ', memwatch: "memwatch's rule:" }
  for (const d of ran) console.log(`${label[d]} ${fmt(summarise(of(d)))}`)
  const late = selected.filter((w) => w.leakAfterS).map((w) => `${w.name} after ${healthySeconds(w)} s healthy`)
  const deploys = selected.filter((w) => w.deploy).map((w) => w.name)
  if (late.length + deploys.length > 0) {
    console.log(`(${[...late, ...deploys.map((n) => `${n}: two processes`)].join('; ')})`)
  }
  for (const r of of('leakwatch')) {
    const reports = r.phases ? r.phases.map((p) => p.report).filter(Boolean) : r.report ? [r.report] : []
    if (reports.length > 0) console.log(`${r.workload}: ${reports.map((x) => JSON.stringify(x)).join(', then ')}`)
  }
  if (from) console.log(`(${selected.length} workloads, from ${from})`)
  else {
    console.log(`(${selected.length} workloads, ${seconds} s each, ${jobs} at a time, ${((Date.now() - started) / 1000).toFixed(0)} s; ` +
      `node ${process.version}; leakwatch options ${options}${heapMb ? `; --max-old-space-size=${heapMb}` : ''})`)
  }
  for (const r of results) if (r.error || r.code) console.log(`${r.workload} (${r.detector}): exit ${r.code} ${r.error || r.stderr}`)
}

main()
