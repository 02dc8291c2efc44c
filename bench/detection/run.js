'use strict'

// Leak detection on natural GC schedules: every workload of ./workloads.js, once with
// leakwatch (default options) and once with memwatch's rule (transcribed on perf_hooks),
// each in its own child process, all in one run. Prints detected / missed / false alarms and
// the seconds to the first `leak` per workload, then the summary.
//
//   node bench/detection/run.js [--seconds 60] [--jobs 3] [--only a,b] [--options JSON] [--json]
//        [--heap-mb N]   (--heap-mb: every child runs with --max-old-space-size=N, as in a
//                         container; pair it with --options '{"detection":{"memoryLimitBytes":…}}')

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
const nodeArgs = heapMb ? [`--max-old-space-size=${Number(heapMb)}`] : []

function runOne({ workload, detector }) {
  return new Promise((resolve) => {
    const args = [...nodeArgs, path.join(__dirname, 'child.js'), workload.name, '--detector', detector, '--seconds', String(seconds), '--options', options]
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

function summarise(runs) {
  const leaky = runs.filter((r) => r.leaks)
  const steady = runs.filter((r) => !r.leaks)
  const times = leaky.map((r) => r.found[0]).filter(Boolean).map((e) => e.t)
  return {
    detected: times.length,
    missed: leaky.length - times.length,
    falseAlarms: steady.filter((r) => r.found.length > 0).length,
    medianSeconds: median(times),
  }
}

async function main() {
  const selected = only ? WORKLOADS.filter((w) => only.split(',').includes(w.name)) : WORKLOADS
  const started = Date.now()
  const runs = selected.flatMap((workload) => ['leakwatch', 'memwatch'].map((detector) => ({ workload, detector })))
  const results = await pool(runs.map((run) => () => runOne(run)), jobs)
  if (asJson) {
    console.log(JSON.stringify(results, null, 2))
    return
  }
  const of = (detector) => results.filter((r) => r.detector === detector)
  const cell = (events, leaks) => {
    if (events.length === 0) return leaks ? 'missed' : 'none (correct)'
    const first = events[0]
    const label = `${first.t.toFixed(1)} s${first.metric ? ` (${first.metric})` : ''}`
    return leaks ? label : `FALSE ALARM at ${label}`
  }
  const rows = selected.map((w) => {
    const lw = of('leakwatch').find((r) => r.workload === w.name)
    const mw = of('memwatch').find((r) => r.workload === w.name)
    return [
      w.name, w.leaks ? 'leak' : 'no leak',
      cell(lw.found, w.leaks), `${lw.fullGcs ?? '?'} (${lw.requestedGcs ?? 0} requested)`,
      cell(mw.found, w.leaks), String(mw.fullGcs ?? '?'),
    ]
  })
  const header = ['workload', 'truth', 'leakwatch: first leak', 'full GCs', "memwatch's rule: first leak", 'full GCs']
  console.log(markdownTable(header, rows))
  console.log('')
  const lw = summarise(of('leakwatch'))
  const mw = summarise(of('memwatch'))
  const fmt = (s) => `detected ${s.detected}/${s.detected + s.missed}, missed ${s.missed}, false alarms ${s.falseAlarms}, ` +
    `median time to first leak ${s.medianSeconds === null ? '-' : `${s.medianSeconds.toFixed(1)} s`}`
  console.log(`leakwatch:       ${fmt(lw)}`)
  console.log(`memwatch's rule: ${fmt(mw)}`)
  console.log(`(${selected.length} workloads, ${seconds} s each, ${jobs} at a time, ${((Date.now() - started) / 1000).toFixed(0)} s; ` +
    `node ${process.version}; leakwatch options ${options}${heapMb ? `; --max-old-space-size=${heapMb}` : ''})`)
  for (const r of results) if (r.error || r.code) console.log(`${r.workload} (${r.detector}): exit ${r.code} ${r.error || r.stderr}`)
}

main()
