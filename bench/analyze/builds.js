'use strict'

// Two or more leakwatch builds side by side on the analysis benchmark's snapshots (run.js
// generates them into .data/): each run of a case runs every build once, in turns (the
// order reversed every other run), so the noise of a shared machine falls on all of them
// alike. Wall time and peak RSS are GNU time's for the whole process; in-process time is
// the promise's. The reports of the builds must be identical (sha1 of their JSON).
//
//   node bench/analyze/builds.js [--runs 5] [--cases analyze,diff] DIR DIR…
//
// Each DIR is a leakwatch package with its addon built (a checkout after `npm run build`,
// or a copy of its index.js, lib/, binding.js, package.json and the .node file). Prefix
// `taskset -c 1` for the one-CPU figures.

const { spawnSync } = require('node:child_process')
const fs = require('node:fs')
const os = require('node:os')
const path = require('node:path')
const { option, median, markdownTable } = require('../common')

const argv = process.argv.slice(2)
const runs = Number(option(argv, '--runs', 5))
const wanted = String(option(argv, '--cases', 'analyze,diff')).split(',')
const builds = argv.filter((a, i) => !a.startsWith('--') && !(i > 0 && argv[i - 1].startsWith('--')))
if (builds.length < 1) throw new Error('usage: builds.js [--runs N] [--cases analyze,diff] DIR DIR…')
const data = path.join(__dirname, '.data')
const file = (name) => path.join(data, `${name}.heapsnapshot`)
const CASES = {
  analyze: { name: 'analyze ~300 MB', files: [file('big-1')] },
  small: { name: 'analyze ~50 MB', files: [file('series-1')] },
  diff: { name: 'diff ~50 + ~90 MB', files: [file('series-1'), file('series-2')] },
  diff3: { name: 'diff of 3', files: [file('series-1'), file('series-2'), file('series-3')] },
}
for (const c of wanted) {
  if (!CASES[c]) throw new Error(`unknown case ${c}`)
  for (const f of CASES[c].files) {
    if (!fs.existsSync(f)) throw new Error(`${f} is missing: npm run bench:analyze generates it`)
  }
}

const SOURCE = `
  const leakwatch = require(process.argv[1])
  const files = process.argv.slice(2)
  const t0 = performance.now()
  const job = files.length === 1 ? leakwatch.analyze(files[0], { classes: Infinity })
    : leakwatch.diff(...files, { classes: Infinity })
  job.then((r) => {
    const ms = performance.now() - t0
    const json = JSON.stringify(r, (k, v) => (typeof v === 'bigint' ? String(v) : v))
    console.log(JSON.stringify({ ms, sha1: require('node:crypto').createHash('sha1').update(json).digest('hex') }))
  })`

function timed(build, files) {
  const r = spawnSync('/usr/bin/time', ['-f', 'TIME %e %M', process.execPath, '-e', SOURCE, path.resolve(build), ...files], {
    encoding: 'utf8', maxBuffer: 64 << 20,
  })
  const m = /TIME ([\d.]+) (\d+)\s*$/.exec(r.stderr)
  if (r.status !== 0 || !m) throw new Error(`${build} failed (${r.status}): ${r.stderr.slice(-2000)}`)
  const out = JSON.parse(r.stdout.trim().split('\n').pop())
  return { wall: Number(m[1]), rss: Number(m[2]) * 1024, seconds: out.ms / 1000, sha1: out.sha1 }
}

const samples = new Map()
for (let i = 0; i < runs; i++) {
  for (const c of wanted) {
    const order = i % 2 ? [...builds].reverse() : builds
    for (const build of order) {
      const s = timed(build, CASES[c].files)
      const key = `${c}\0${build}`
      if (!samples.has(key)) samples.set(key, [])
      samples.get(key).push(s)
      console.error(`run ${i + 1}: ${CASES[c].name}, ${build}: ${s.wall.toFixed(2)} s, ${(s.rss / 1e6).toFixed(0)} MB`)
    }
  }
}

const mb = (bytes) => `${(bytes / 1e6).toFixed(0)} MB`
const rows = []
const verdicts = []
for (const c of wanted) {
  const first = samples.get(`${c}\0${builds[0]}`)
  const base = { wall: median(first.map((s) => s.wall)), rss: median(first.map((s) => s.rss)) }
  const hashes = new Set()
  for (const build of builds) {
    const s = samples.get(`${c}\0${build}`)
    s.forEach((x) => hashes.add(x.sha1))
    const wall = median(s.map((x) => x.wall))
    const rss = median(s.map((x) => x.rss))
    rows.push([CASES[c].name, build, wall.toFixed(2), median(s.map((x) => x.seconds)).toFixed(3), mb(rss),
      `${mb(Math.min(...s.map((x) => x.rss)))}–${mb(Math.max(...s.map((x) => x.rss)))}`,
      (wall / base.wall).toFixed(2), (rss / base.rss).toFixed(2)])
  }
  verdicts.push(`${CASES[c].name}: the reports are ${hashes.size === 1 ? 'identical' : 'DIFFERENT'}`)
}
console.log(`\n${os.cpus().length} cores, ${os.cpus()[0].model}, Node.js ${process.version}, runs per cell: ${runs} (median), builds in turns\n`)
console.log(markdownTable(['Case', 'Build', 'Wall s', 'In-process s', 'Peak RSS', 'RSS range', 'Wall vs first', 'RSS vs first'], rows))
console.log('')
verdicts.forEach((v) => console.log(v))
if (verdicts.some((v) => v.includes('DIFFERENT'))) process.exitCode = 1
