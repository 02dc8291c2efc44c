'use strict'

// GC-monitoring overhead, side by side in one run.
//
//   npm run bench:gc-overhead            (or: node bench/gc-overhead/run.js [--rounds N])
//
// The same job (job.js) runs without monitoring (baseline: leakwatch loaded, not started),
// with leakwatch started, and with each peer that installs here. Two measures:
//   - instructions executed, counted by valgrind's callgrind under `node --predictable`
//     (repeatable to ~0.001 %; the background threads count too). Start-up is measured
//     separately (CHUNKS=0) and subtracted, so the figure is the job's own;
//   - wall-clock medians of alternating rounds (noisy on shared machines: read as a sanity
//     check beside the instruction counts).
// Peers are installed into bench/peers (never into leakwatch's dependencies).

const { spawn, spawnSync } = require('node:child_process')
const fs = require('node:fs')
const os = require('node:os')
const path = require('node:path')
const { option, median, pool } = require('../common')

const here = __dirname
const peersDir = path.join(here, '..', 'peers')
const args = process.argv.slice(2)
const opt = (name, fallback) => Number(option(args, name, fallback))
const ROUNDS = opt('--rounds', 7)
const CHUNKS = opt('--chunks', 200)
const CG_CHUNKS = opt('--callgrind-chunks', 200)
const CG_REPEATS = opt('--callgrind-repeats', 2)
// Deterministic GC: single-threaded V8, a fixed GC schedule, no timer-driven GC tasks, and
// 1 MiB semi-spaces so the short job makes hundreds of scavenges.
const NODE_FLAGS = ['--predictable', '--predictable-gc-schedule', '--no-memory-reducer',
  '--no-incremental-marking-task', '--no-minor-gc-task', '--min-semi-space-size=1',
  '--max-semi-space-size=1']
const PEERS = [
  { mode: 'memwatch', pkg: '@airbnb/node-memwatch', label: '@airbnb/node-memwatch (stats listener)' },
  { mode: 'gc-stats', pkg: 'gc-stats', label: 'gc-stats (stats listener)' },
  { mode: 'datadog', pkg: '@datadog/native-metrics', label: '@datadog/native-metrics (start)' },
]

function peerInstalled(pkg) {
  try {
    require.resolve(pkg, { paths: [peersDir] })
    return true
  } catch {
    return false
  }
}

function installPeers() {
  if (PEERS.every((p) => peerInstalled(p.pkg))) return
  console.error('installing peers into bench/peers (npm_config_nodedir=/usr for node-gyp) ...')
  const env = { ...process.env, npm_config_nodedir: process.env.npm_config_nodedir || '/usr' }
  spawnSync('npm', ['install', '--no-audit', '--no-fund'], { cwd: peersDir, env, stdio: 'inherit' })
  spawnSync('npm', ['rebuild'], { cwd: peersDir, env, stdio: 'inherit' })
}

function runJob(mode, chunks, prefix = []) {
  return new Promise((resolve) => {
    const cmd = prefix.length ? prefix[0] : process.execPath
    const argv = [...prefix.slice(1), ...(prefix.length ? [process.execPath] : []), ...NODE_FLAGS,
      path.join(here, 'job.js'), mode, String(chunks)]
    const child = spawn(cmd, argv, { stdio: ['ignore', 'pipe', 'pipe'] })
    let out = ''
    let err = ''
    child.stdout.on('data', (d) => { out += d })
    child.stderr.on('data', (d) => { err += d })
    child.on('close', (code, signal) => {
      const line = out.split('\n').find((l) => l.startsWith('{'))
      const collected = /Collected : (\d+)/.exec(err)
      const killedBy = signal || (/Process terminating with default action of signal \d+ \((\w+)\)/.exec(err) || [])[1]
      resolve({
        code, signal: killedBy || null, result: line ? JSON.parse(line) : null,
        instructions: collected ? Number(collected[1]) : null, stderr: err,
      })
    })
  })
}

async function main() {
  installPeers()
  const modes = [
    { mode: 'baseline', label: 'baseline (leakwatch loaded, not started)' },
    { mode: 'leakwatch', label: 'leakwatch (start() + stats listener)' },
    ...PEERS.filter((p) => peerInstalled(p.pkg)),
    { mode: 'perf_hooks', label: 'perf_hooks GC observer' },
  ]
  const missing = PEERS.filter((p) => !peerInstalled(p.pkg)).map((p) => p.pkg)

  // Wall clock: alternating rounds, rotated order.
  const wall = Object.fromEntries(modes.map((m) => [m.mode, []]))
  // A run that printed its result and then died at exit (a peer's teardown bug) still
  // counts for the timing; the crash is reported.
  const crashes = Object.fromEntries(modes.map((m) => [m.mode, { crashed: 0, runs: 0, how: new Set() }]))
  const noteExit = (mode, r) => {
    crashes[mode].runs++
    if (r.code !== 0) {
      crashes[mode].crashed++
      crashes[mode].how.add(r.signal || `exit code ${r.code}`)
    }
  }
  const pairs = []
  let leakwatchRuns = []
  for (let round = 0; round < ROUNDS; round++) {
    const order = modes.map((_, i) => modes[(i + round) % modes.length])
    const times = {}
    for (const m of order) {
      const r = await runJob(m.mode, CHUNKS)
      if (!r.result) throw new Error(`${m.mode} failed (${r.signal || r.code}): ${r.stderr}`)
      noteExit(m.mode, r)
      wall[m.mode].push(r.result.ms)
      times[m.mode] = r.result.ms
      if (m.mode === 'leakwatch') leakwatchRuns.push(r.result)
    }
    pairs.push(times.baseline / times.leakwatch)
    process.stderr.write(`wall round ${round + 1}/${ROUNDS} done\n`)
  }

  // Instructions: job and start-up for every mode, two valgrind runs at a time.
  const valgrind = spawnSync('valgrind', ['--version'], { encoding: 'utf8' })
  const counts = {}
  let attribution = null
  if (valgrind.status === 0) {
    const cgDir = fs.mkdtempSync(path.join(os.tmpdir(), 'leakwatch-cg-'))
    const tasks = []
    for (const m of modes) {
      for (let i = 0; i < CG_REPEATS; i++) tasks.push({ mode: m.mode, chunks: CG_CHUNKS, i })
      tasks.push({ mode: m.mode, chunks: 0, i: 0 })
    }
    const runs = await pool(tasks.map((t) => async () => {
      const attribute = t.mode === 'leakwatch' && t.chunks > 0 && t.i === 0
      const out = attribute ? path.join(cgDir, 'cg.%p') : '/dev/null'
      const prefix = ['valgrind', '--tool=callgrind', `--callgrind-out-file=${out}`,
        ...(attribute ? ['--separate-threads=yes'] : [])]
      const r = await runJob(t.mode, t.chunks, prefix)
      process.stderr.write(`callgrind ${t.mode} chunks=${t.chunks}: ${r.instructions}\n`)
      if (r.instructions === null || (t.chunks > 0 && !r.result)) {
        throw new Error(`callgrind ${t.mode} failed: ${r.stderr.slice(-2000)}`)
      }
      noteExit(t.mode, r)
      return { ...t, r, attribute }
    }), Math.max(1, Math.min(2, os.cpus().length)))
    for (const run of runs) {
      const c = (counts[run.mode] = counts[run.mode] || { totals: [], startup: null })
      if (run.chunks === 0) c.startup = run.r.instructions
      else { c.totals.push(run.r.instructions); c.result = run.r.result }
      if (run.attribute) attribution = attribute(cgDir, run.r.instructions)
    }
    fs.rmSync(cgDir, { recursive: true, force: true })
  }

  const jobOf = (c, total) => total - c.startup
  const base = counts.baseline && median(counts.baseline.totals.map((t) => jobOf(counts.baseline, t)))
  const baseWall = median(wall.baseline)
  const rows = modes.map((m) => {
    const c = counts[m.mode]
    const jobs = c ? c.totals.map((t) => jobOf(c, t)) : []
    const job = c ? median(jobs) : null
    return {
      label: m.label,
      instructions: job,
      instrRatio: job && base ? base / job : null,
      spread: jobs.length > 1 ? (Math.max(...jobs) - Math.min(...jobs)) / job : null,
      wallMs: median(wall[m.mode]),
      wallRatio: baseWall / median(wall[m.mode]),
    }
  })

  const lwc = counts.leakwatch && counts.leakwatch.result
  const fmt = (x, d = 3) => (x === null || x === undefined ? 'n/a' : x.toFixed(d))
  console.log(`\nGC monitoring overhead — Node ${process.version}, ${os.cpus().length} cores, ` +
    `node ${NODE_FLAGS.join(' ')}; callgrind job: ${CG_CHUNKS} chunks ` +
    `(${lwc ? `${lwc.scavenges} scavenges, ${lwc.markCompacts} mark-compacts` : 'n/a'}); ` +
    `wall: ${ROUNDS} alternating rounds of ${CHUNKS} chunks\n`)
  if (attribution) {
    const a = attribution
    const share = a.total / (a.job - a.total)
    console.log(`leakwatch's own instructions in one run, attributed by callgrind (${a.callbacks} GC callbacks, ${a.events} events):\n`)
    console.log('| part | instructions | per call |')
    console.log('|---|---:|---:|')
    console.log(`| GC prologue callbacks | ${a.prologue.toLocaleString('en')} | ${(a.prologue / a.prologueCalls).toFixed(0)} |`)
    console.log(`| GC epilogue callbacks (incl. GetHeapStatistics) | ${a.epilogue.toLocaleString('en')} | ${(a.epilogue / a.epilogueCalls).toFixed(0)} |`)
    console.log(`| event delivery on the JS thread (incl. facade and listener) | ${a.delivery.toLocaleString('en')} | ${(a.delivery / Math.max(1, a.events)).toFixed(0)} |`)
    console.log(`| background thread | ${a.background.toLocaleString('en')} | |`)
    console.log(`| **total** | **${a.total.toLocaleString('en')}** of ${(a.job / 1e6).toFixed(1)} M in the job | |`)
    console.log(`\n**Instruction ratio (job without leakwatch's share ÷ job): ${(1 / (1 + share)).toFixed(5)}** ` +
      `(leakwatch executes ${(share * 100).toFixed(3)} % of the job's instructions)\n`)
  }
  console.log('Whole-process comparison (every mode, same job; each instruction figure is the median ' +
    `of ${CG_REPEATS} callgrind runs, start-up subtracted; "spread" is max−min between those runs, ` +
    'the noise floor of this comparison):\n')
  console.log('| run | instructions (job) | spread | throughput ratio by instructions | wall median (ms) | throughput ratio by wall |')
  console.log('|---|---:|---:|---:|---:|---:|')
  for (const r of rows) {
    console.log(`| ${r.label} | ${r.instructions === null ? 'n/a' : (r.instructions / 1e6).toFixed(1) + ' M'} | ` +
      `${r.spread === null ? 'n/a' : (r.spread * 100).toFixed(2) + ' %'} | ` +
      `${fmt(r.instrRatio, 4)} | ${r.wallMs.toFixed(0)} | ${fmt(r.wallRatio)} |`)
  }
  const p50s = leakwatchRuns.map((r) => r.callbackP50Ns)
  const means = leakwatchRuns.map((r) => r.callbackMeanNs)
  const p99s = leakwatchRuns.map((r) => r.callbackP99Ns)
  console.log(`\nleakwatch, paired wall ratio (baseline/leakwatch, median of ${ROUNDS} pairs): ${fmt(median(pairs))}`)
  console.log(`leakwatch GC callback cost measured inside the callbacks (median over rounds): ` +
    `p50 ≤ ${median(p50s)} ns, mean ${median(means).toFixed(0)} ns, p99 ≤ ${median(p99s)} ns ` +
    `(${leakwatchRuns[0].callbacks} callbacks a run)`)
  for (const m of modes) {
    const c = crashes[m.mode]
    if (c.crashed) {
      console.log(`${m.label}: crashed at exit after printing its result in ${c.crashed} of ${c.runs} runs ` +
        `(${[...c.how].join(', ')})`)
    }
  }
  if (missing.length) console.log(`not measured (did not install here): ${missing.join(', ')}`)
  console.log('ratios: baseline ÷ run, so 1.000 = no overhead and 0.990 = 1 % slower')
}

// Reads leakwatch's own cost from a --separate-threads callgrind output: inclusive cost of
// the GC callbacks and of event delivery on the JS thread, and the background thread's total.
function attribute(dir, jobTotal) {
  const files = fs.readdirSync(dir).map((f) => path.join(dir, f)).filter((f) => fs.statSync(f).size > 0)
  const text = (f) => fs.readFileSync(f, 'utf8')
  const main = files.find((f) => /^thread: 1$/m.test(text(f)))
  const background = files.find((f) => !/^thread: 1$/m.test(text(f)) && /leakwatch::monitor::Worker/.test(text(f)))
  const annotate = spawnSync('callgrind_annotate', ['--inclusive=yes', '--threshold=100', main],
    { encoding: 'utf8', maxBuffer: 256 * 1024 * 1024 })
  const inclusive = (fn) => {
    const re = new RegExp(`^\\s*([\\d,]+) \\([^)]*\\)\\s+\\?\\?\\?:${fn} \\[`, 'm')
    const m = re.exec(annotate.stdout)
    return m ? Number(m[1].replace(/,/g, '')) : 0
  }
  const calls = (fn) => {
    // "calls=N" lines precede each call edge to fn in the callgrind file.
    const body = text(main)
    const id = new RegExp(`\\((\\d+)\\) ${fn.replace(/[:]/g, '\\$&')}\\n`).exec(body)
    if (!id) return 0
    let n = 0
    const re = new RegExp(`cfn=\\(${id[1]}\\)[^\\n]*\\ncalls=(\\d+)`, 'g')
    for (let m; (m = re.exec(body));) n += Number(m[1])
    return n
  }
  const summary = (f) => Number(/^summary: (\d+)$/m.exec(text(f))[1])
  const prologue = inclusive('leakwatch::gc::on_gc_prologue')
  const epilogue = inclusive('leakwatch::gc::on_gc_epilogue')
  const delivery = inclusive('napi::threadsafe_function::call_js_cb')
  const bg = background ? summary(background) : 0
  const prologueCalls = calls('leakwatch::gc::on_gc_prologue')
  const epilogueCalls = calls('leakwatch::gc::on_gc_epilogue')
  return {
    prologue, epilogue, delivery, background: bg, total: prologue + epilogue + delivery + bg,
    prologueCalls, epilogueCalls, callbacks: prologueCalls + epilogueCalls,
    events: calls('napi::threadsafe_function::call_js_cb'), job: jobTotal,
  }
}

main().catch((err) => {
  console.error(err)
  process.exit(1)
})
