'use strict'

// How much of a leak's growth its allocation sites cover with `attribution.when: 'growth'`
// (the default: the sampling heap profiler starts on early growth, not at start()), and how
// long the profiler runs on each workload of ./workloads.js. leakwatch only, each workload in
// its own child process (./child.js). Per workload: the first `leak` and its window, when the
// profiler started (the `leak`'s `attribution.since`), the share of the window it sampled —
// (end − max(since, start)) / (end − start): the workloads grow from their first second, so
// this is the share of the growth — the top site, and the share of the run the profiler ran.
//
//   node bench/detection/coverage.js [--seconds 120] [--jobs 4] [--only a,b] [--options JSON]
//        [--heap-mb N]

const { spawn } = require('node:child_process')
const path = require('node:path')
const { WORKLOADS } = require('./workloads')
const { option, median, pool, markdownTable } = require('../common')

const argv = process.argv.slice(2)
const value = (name, fallback) => option(argv, name, fallback)
const seconds = Number(value('--seconds', 120))
const jobs = Number(value('--jobs', 4))
const only = value('--only', null)
const options = value('--options', '{}')
const heapMb = value('--heap-mb', null)
const nodeArgs = heapMb ? [`--max-old-space-size=${Number(heapMb)}`] : []

function runOne(workload) {
  return new Promise((resolve) => {
    const args = [...nodeArgs, path.join(__dirname, 'child.js'), workload.name, '--seconds', String(seconds), '--options', options]
    const child = spawn(process.execPath, args, { stdio: ['ignore', 'pipe', 'pipe'] })
    let out = ''
    child.stdout.on('data', (d) => { out += d })
    child.on('close', (code) => {
      try {
        resolve(JSON.parse(out.trim().split('\n').pop()))
      } catch {
        resolve({ workload: workload.name, leaks: workload.leaks, error: `exit ${code}`, found: [] })
      }
    })
  })
}

async function main() {
  // A leak that starts late (leakAfterS) does not grow from its first second, which the share
  // of the window sampled assumes: left out. A deploy workload reports its first process.
  const measurable = WORKLOADS.filter((w) => !w.leakAfterS)
  const selected = only ? measurable.filter((w) => only.split(',').includes(w.name)) : measurable
  const started = Date.now()
  const runs = await pool(selected.map((w) => () => runOne(w)), jobs)
  const shares = []
  const rows = runs.map((r) => {
    const first = r.found[0]
    const on = r.profiler ? `${(100 * r.profiler.share).toFixed(0)} %` : '?'
    const firstOn = r.profiler && r.profiler.firstT != null ? `${r.profiler.firstT.toFixed(1)} s` : 'never'
    if (!first) return [r.workload, r.leaks ? 'leak' : 'no leak', r.error || 'none', '–', '–', '–', firstOn, on]
    const start = Date.parse(first.start)
    const end = Date.parse(first.end)
    const since = first.attribution && first.attribution.since ? Date.parse(first.attribution.since) : null
    const share = since === null ? 0 : Math.max(0, Math.min(1, (end - Math.max(since, start)) / (end - start)))
    if (r.leaks) shares.push(share)
    const site = (first.topAllocations || [])[0]
    const where = site ? `${site.functionName || '(anonymous)'} ${path.basename(site.url)}:${site.line}` : `none (${first.attribution && first.attribution.status})`
    return [r.workload, r.leaks ? 'leak' : 'no leak', `${first.t.toFixed(1)} s (${first.metric})`,
      `${((end - start) / 1000).toFixed(1)} s`, `${(100 * share).toFixed(0)} %`, where, firstOn, on]
  })
  const header = ['workload', 'truth', 'first leak', 'its window', 'window sampled', 'top site', 'profiler first on', 'profiler on (share of run)']
  console.log(markdownTable(header, rows))
  console.log(`\nleaks: median share of the first leak's window sampled ${shares.length ? (100 * median(shares)).toFixed(0) : '?'} % ` +
    `(${shares.length} leaks found); ${selected.length} workloads, ${seconds} s each, ${jobs} at a time, ` +
    `${Math.round((Date.now() - started) / 1000)} s; node ${process.version}; leakwatch options ${options}` +
    (heapMb ? `; --max-old-space-size=${heapMb}` : ''))
}

main()
