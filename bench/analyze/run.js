'use strict'

// Snapshot analysis, side by side in one run: leakwatch, DevTools' own code
// (heap-snapshot-toolkit) and memlab, on server-like snapshots of about 50 MB and 300 MB and
// on a growing series from one process. Each tool runs in its own process; wall time and
// peak RSS come from GNU time, the in-process time from the tool's own clock. On every case
// DevTools also runs, leakwatch's class table is checked against DevTools' numbers.
//
//   npm run bench:analyze [-- --runs 3] [--no-memlab]
//   npm run bench:analyze -- --big [--sizes 1,2,4] [--dir DIR]   (1–4 GB generated files: big.js)
//
// The peers are bench-only installs:
//   PUPPETEER_SKIP_DOWNLOAD=1 npm_config_nodedir=/usr npm install --prefix bench/peers

const { spawnSync } = require('node:child_process')
const fs = require('node:fs')
const os = require('node:os')
const path = require('node:path')
const { option, median, markdownTable } = require('../common')

const argv = process.argv.slice(2)
if (argv.includes('--big')) {
  require('./big').run(argv).catch((e) => {
    console.error(e)
    process.exitCode = 1
  })
  return
}
const runs = Number(option(argv, '--runs', 1))
const withMemlab = !argv.includes('--no-memlab')
const data = path.join(__dirname, '.data')
const root = path.join(__dirname, '..', '..')
const peers = path.join(__dirname, '..', 'peers', 'node_modules')
// DevTools' code: the bench-only install, else the copy the tests use (a dev dependency).
const toolkitPeer = path.join(peers, 'heap-snapshot-toolkit', 'index.js')
const toolkitDev = path.join(root, 'node_modules', 'heap-snapshot-toolkit', 'index.js')
const toolkit = fs.existsSync(toolkitPeer) ? toolkitPeer : toolkitDev
const memlabBin = path.join(peers, '.bin', 'memlab')

function generate(prefix, args) {
  const first = path.join(data, `${prefix}-1.heapsnapshot`)
  if (fs.existsSync(first)) return
  console.error(`generating ${prefix} snapshots…`)
  const r = spawnSync(process.execPath, ['--max-old-space-size=8192', path.join(__dirname, 'workload.js'),
    '--out', data, '--prefix', prefix, ...args], { stdio: ['ignore', 'inherit', 'inherit'] })
  if (r.status !== 0) throw new Error(`workload ${prefix} failed`)
}

fs.mkdirSync(data, { recursive: true })
generate('series', ['--sessions', '17000', '--snapshots', '3', '--leak-per-step', '36000'])
generate('big', ['--sessions', '112000', '--snapshots', '1'])
const file = (name) => path.join(data, `${name}.heapsnapshot`)

/** Runs `node -e source args` under GNU time; returns { wall, rss, out } (seconds, bytes). */
function timed(source, args, nodeArgs = []) {
  const r = spawnSync('/usr/bin/time', ['-f', 'TIME %e %M', process.execPath, ...nodeArgs, '-e', source, ...args], {
    encoding: 'utf8', maxBuffer: 64 << 20, cwd: root,
  })
  const m = /TIME ([\d.]+) (\d+)\s*$/.exec(r.stderr)
  if (r.status !== 0 || !m) throw new Error(`run failed (${r.status}): ${r.stderr.slice(-2000)}`)
  const last = r.stdout.trim().split('\n').pop()
  return { wall: Number(m[1]), rss: Number(m[2]) * 1024, out: JSON.parse(last) }
}

function timedCommand(command, args) {
  const r = spawnSync('/usr/bin/time', ['-f', 'TIME %e %M', command, ...args], { encoding: 'utf8', maxBuffer: 64 << 20 })
  const m = /TIME ([\d.]+) (\d+)\s*$/.exec(r.stderr)
  if (r.status !== 0 || !m) throw new Error(`${command} failed (${r.status}): ${r.stderr.slice(-2000)}`)
  return { wall: Number(m[1]), rss: Number(m[2]) * 1024, out: null }
}

const tables = path.join(os.tmpdir(), `leakwatch-bench-analyze-${process.pid}`)
fs.mkdirSync(tables, { recursive: true })

const LEAKWATCH_ANALYZE = `
  const leakwatch = require(${JSON.stringify(root)})
  const t0 = performance.now()
  leakwatch.analyze(process.argv[1], { classes: Infinity }).then((r) => {
    const ms = performance.now() - t0
    require('node:fs').writeFileSync(process.argv[2], JSON.stringify(Object.fromEntries(
      r.classes.map((c) => [c.key, [c.count, c.selfSize, c.retainedSize]]))))
    console.log(JSON.stringify({ ms, classes: r.classes.length }))
  })`
const LEAKWATCH_DIFF = `
  const leakwatch = require(${JSON.stringify(root)})
  const files = process.argv.slice(1, -1)
  const t0 = performance.now()
  leakwatch.diff(...files, { classes: Infinity }).then((r) => {
    const ms = performance.now() - t0
    require('node:fs').writeFileSync(process.argv.at(-1), JSON.stringify(Object.fromEntries(
      r.classes.map((c) => [c.key, [c.addedCount, c.removedCount, c.addedSize, c.removedSize]]))))
    console.log(JSON.stringify({ ms, rows: r.classes.length, top: r.growth[0] && r.growth[0].name }))
  })`
const DEVTOOLS_ANALYZE = `
  const fs = require('node:fs')
  import(${JSON.stringify(toolkit)}).then(async ({ parse }) => {
    const t0 = performance.now()
    const snap = await parse(fs.createReadStream(process.argv[1], 'utf8'))
    const aggregates = snap.aggregatesWithFilter({})
    const ms = performance.now() - t0
    fs.writeFileSync(process.argv[2], JSON.stringify(Object.fromEntries(
      Object.entries(aggregates).map(([k, a]) => [k, [a.count, a.self, a.maxRet]]))))
    console.log(JSON.stringify({ ms }))
  })`
const DEVTOOLS_DIFF = `
  const fs = require('node:fs')
  import(${JSON.stringify(toolkit)}).then(async ({ parse }) => {
    const t0 = performance.now()
    const base = await parse(fs.createReadStream(process.argv[1], 'utf8'))
    const current = await parse(fs.createReadStream(process.argv[2], 'utf8'))
    const diff = current.calculateSnapshotDiff(base.uid, base.aggregatesForDiff(current.interfaceDefinitions()))
    const ms = performance.now() - t0
    fs.writeFileSync(process.argv[3], JSON.stringify(Object.fromEntries(
      Object.entries(diff).map(([k, d]) => [k, [d.addedCount, d.removedCount, d.addedSize, d.removedSize]]))))
    console.log(JSON.stringify({ ms }))
  })`

function sameTables(a, b) {
  const x = JSON.parse(fs.readFileSync(a, 'utf8'))
  const y = JSON.parse(fs.readFileSync(b, 'utf8'))
  const keys = Object.keys(y)
  const equal = keys.length === Object.keys(x).length && keys.every((k) => JSON.stringify(x[k]) === JSON.stringify(y[k]))
  return { equal, classes: keys.length }
}

const mb = (bytes) => `${(bytes / 1e6).toFixed(0)} MB`
const cases = [
  { name: 'analyze ~50 MB', files: [file('series-1')], kind: 'analyze' },
  { name: 'analyze ~300 MB', files: [file('big-1')], kind: 'analyze' },
  { name: 'diff ~50 + ~90 MB', files: [file('series-1'), file('series-2')], kind: 'diff' },
  { name: 'diff of 3 (~50, ~90, ~130 MB)', files: [file('series-1'), file('series-2'), file('series-3')], kind: 'diff3' },
]

const rows = []
const checks = []
for (const c of cases) {
  const sizes = c.files.map((f) => mb(fs.statSync(f).size)).join(' + ')
  const results = {}
  const mine = path.join(tables, `${c.kind}-leakwatch.json`)
  const theirs = path.join(tables, `${c.kind}-devtools.json`)
  const measure = (tool, fn) => {
    const samples = []
    for (let i = 0; i < runs; i++) samples.push(fn())
    results[tool] = {
      wall: median(samples.map((s) => s.wall)),
      inProcess: samples[0].out ? median(samples.map((s) => s.out.ms / 1000)) : null,
      rss: median(samples.map((s) => s.rss)),
      out: samples[0].out,
    }
    console.error(`${c.name}: ${tool} ${results[tool].wall.toFixed(2)} s, ${mb(results[tool].rss)}`)
  }
  if (c.kind === 'analyze') {
    measure('leakwatch', () => timed(LEAKWATCH_ANALYZE, [c.files[0], mine]))
    if (fs.existsSync(toolkit)) {
      measure('DevTools (heap-snapshot-toolkit)', () => timed(DEVTOOLS_ANALYZE, [c.files[0], theirs], ['--max-old-space-size=16384']))
      checks.push([c.name, sameTables(mine, theirs)])
    }
    if (withMemlab && fs.existsSync(memlabBin)) {
      measure('memlab analyze object-size', () => timedCommand(memlabBin, ['analyze', 'object-size', '--snapshot', c.files[0]]))
    }
  } else if (c.kind === 'diff') {
    measure('leakwatch', () => timed(LEAKWATCH_DIFF, [...c.files, mine]))
    if (fs.existsSync(toolkit)) {
      measure('DevTools (heap-snapshot-toolkit)', () => timed(DEVTOOLS_DIFF, [...c.files, theirs], ['--max-old-space-size=16384']))
      checks.push([c.name, sameTables(mine, theirs)])
    }
  } else {
    measure('leakwatch', () => timed(LEAKWATCH_DIFF, [...c.files, mine]))
    checks.push([c.name, { growth: results.leakwatch.out.top }])
  }
  const base = results.leakwatch
  for (const [tool, r] of Object.entries(results)) {
    rows.push([c.name, sizes, tool, r.wall.toFixed(2), r.inProcess === null ? '–' : r.inProcess.toFixed(2),
      mb(r.rss), tool === 'leakwatch' ? '1.0×' : `${(r.wall / base.wall).toFixed(1)}×`])
  }
}

console.log(`\n${os.cpus().length} cores, ${os.cpus()[0].model}, Node.js ${process.version}, runs per cell: ${runs} (median)\n`)
console.log(markdownTable(['Case', 'Snapshots', 'Tool', 'Wall s', 'In-process s', 'Peak RSS', 'Wall vs leakwatch'], rows))
console.log('')
for (const [name, check] of checks) {
  if ('equal' in check) {
    console.log(`${name}: leakwatch's table ${check.equal ? 'equals' : 'DIFFERS FROM'} DevTools' (${check.classes} classes)`)
  } else {
    console.log(`${name}: top growth group: ${check.growth}`)
  }
}
fs.rmSync(tables, { recursive: true, force: true })
