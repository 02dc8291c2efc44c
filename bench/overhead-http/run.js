'use strict'

// Throughput and latency cost of leakwatch on a real HTTP service: the Express JSON service
// of server.js under autocannon (load.js), server and load generator pinned to different
// cores with taskset. Each round runs every variant once, in an order rotated per round:
//
//   none            leakwatch not loaded
//   loaded          require('leakwatch'), not started
//   defaults        leakwatch.start()
//   no-attribution  leakwatch.start({ attribution: false })
//
//   always          leakwatch.start({ attribution: { when: 'always' } }) (only with --variants)
//
// Prints the median requests/s, p50 and p99 latency and the server's CPU time per request
// (user + system, measured part only) per variant, their ratios to `none`, the
// median of the per-round ratios (each run against `none` of the same round: steadier when
// the machine's load drifts between rounds), the share of each started variant's run in
// which the sampling heap profiler ran, and leakwatch's own CPU time per request (server.js:
// its thread, its GC callbacks, its confirmation GCs) with its share of the server's: a
// figure the machine's noise hardly touches, unlike the ratios. --json FILE keeps every run; --report FILE prints the
// table of such a file again.
//
//   node bench/overhead-http/run.js [--rounds 7] [--duration 10] [--warmup 3]
//     [--connections 10] [--server-cpu 1] [--load-cpu 0] [--json FILE] [--report FILE]
//     [--variants none,loaded,defaults,no-attribution,always]

const { spawn, spawnSync } = require('node:child_process')
const fs = require('node:fs')
const os = require('node:os')
const path = require('node:path')
const { option, median, markdownTable } = require('../common')

const argv = process.argv.slice(2)
const value = (name, fallback) => Number(option(argv, name, fallback))
const rounds = value('--rounds', 7)
const duration = value('--duration', 10)
const warmup = value('--warmup', 3)
const connections = value('--connections', 10)
const serverCpu = option(argv, '--server-cpu', '1')
const loadCpu = option(argv, '--load-cpu', '0')
const jsonOut = option(argv, '--json', null)
const VARIANTS = option(argv, '--variants', 'none,loaded,defaults,no-attribution').split(',')
if (VARIANTS[0] !== 'none') throw new Error('--variants: the first must be none (the baseline)')

const pinned = os.availableParallelism() >= 2 &&
  spawnSync('taskset', ['-c', loadCpu, 'true']).status === 0
if (!pinned) console.warn('overhead-http: taskset or a second core is missing; running unpinned')
/** The command line of `args`, pinned to `cpu` when taskset works. */
const on = (cpu, args) => (pinned ? ['taskset', ['-c', cpu, ...args]] : [args[0], args.slice(1)])

/** Spawns a child; resolves with its stdout lines when it exits. */
function lines(child) {
  let out = ''
  let err = ''
  child.stdout.on('data', (d) => { out += d })
  child.stderr.on('data', (d) => { err += d })
  return new Promise((resolve, reject) => {
    child.on('error', reject)
    child.on('close', (code, signal) => {
      if (code !== 0 && signal !== 'SIGTERM') reject(new Error(`exit ${code ?? signal}\n${err}`))
      else resolve(out.split('\n').filter(Boolean).map((l) => JSON.parse(l)))
    })
  })
}

async function runOnce(variant) {
  const [cmd, args] = on(serverCpu, [process.execPath, path.join(__dirname, 'server.js'), variant])
  const server = spawn(cmd, args, { stdio: ['ignore', 'pipe', 'pipe'] })
  const serverDone = lines(server)
  const port = await new Promise((resolve, reject) => {
    server.stdout.once('data', (d) => resolve(JSON.parse(String(d).split('\n')[0]).port))
    server.once('close', () => reject(new Error(`${variant}: the server exited before listening`)))
  })
  const [lcmd, largs] = on(loadCpu, [process.execPath, path.join(__dirname, 'load.js'), String(port),
    '--duration', String(duration), '--warmup', String(warmup), '--connections', String(connections)])
  const [load] = await lines(spawn(lcmd, largs, { stdio: ['ignore', 'pipe', 'pipe'] }))
  server.kill('SIGTERM')
  const seen = (await serverDone).find((l) => l.variant === variant)
  return { variant, ...load, ...seen }
}

async function main() {
  const report = option(argv, '--report', null)
  if (report) {
    print(JSON.parse(fs.readFileSync(report, 'utf8')))
    return
  }
  const loadBefore = os.loadavg()
  const started = Date.now()
  const results = Object.fromEntries(VARIANTS.map((v) => [v, []]))
  for (let r = 0; r < rounds; r++) {
    for (let k = 0; k < VARIANTS.length; k++) {
      const variant = VARIANTS[(r + k) % VARIANTS.length]
      const result = await runOnce(variant)
      if (result.errors || result.timeouts) throw new Error(`${variant}: ${result.errors} errors, ${result.timeouts} timeouts`)
      results[variant].push(result)
      console.error(`round ${r + 1}/${rounds} ${variant}: ${result.requestsPerSecond.toFixed(0)} req/s, ` +
        `p50 ${result.p50Ms.toFixed(2)} ms, p99 ${result.p99Ms.toFixed(2)} ms` +
        (result.samplingShare != null ? `, profiler sampling ${(100 * result.samplingShare).toFixed(0)} %` : ''))
    }
  }
  const run = { rounds, duration, warmup, connections, pinned, serverCpu, loadCpu, node: process.version,
    cpus: os.availableParallelism(), seconds: Math.round((Date.now() - started) / 1000), loadBefore,
    loadAfter: os.loadavg(), variants: VARIANTS, results }
  print(run)
  if (jsonOut) fs.writeFileSync(jsonOut, JSON.stringify(run, null, 2))
}

/**
 * leakwatch's own CPU time per request in a started variant's runs (median of each part and
 * of their sum), and that sum's share of the server's CPU time per request (median).
 */
function ownCell(runs) {
  const own = runs.map((x) => x.leakwatchUsPerRequest).filter(Boolean)
  if (own.length === 0) return '–'
  const total = (o) => (o.thread ?? 0) + (o.callbacks ?? 0) + (o.requestedGcs ?? 0)
  const part = (key) => median(own.map((o) => o[key] ?? 0)).toFixed(2)
  const shares = runs.filter((x) => x.leakwatchUsPerRequest).map((x) => total(x.leakwatchUsPerRequest) / x.cpuUsPerRequest)
  return `${part('thread')} + ${part('callbacks')} + ${part('requestedGcs')} = ${median(own.map(total)).toFixed(2)} µs ` +
    `(${(100 * median(shares)).toFixed(2)} %)`
}

/** The table and the conditions of one run (as --json writes it). */
function print({ rounds, duration, warmup, connections, pinned, serverCpu, loadCpu, node, cpus, seconds,
  loadBefore, loadAfter, variants, results }) {
  const med = (v, key) => median(results[v].map((x) => x[key]))
  // Each run against the baseline of its own round (results are in round order).
  const paired = (v, key) => median(results[v].map((x, r) => x[key] / results.none[r][key]))
  const base = { rps: med('none', 'requestsPerSecond'), p50: med('none', 'p50Ms'), p99: med('none', 'p99Ms') }
  const rows = variants.map((v) => {
    const rps = med(v, 'requestsPerSecond')
    const all = results[v].map((x) => x.requestsPerSecond)
    const share = results[v][0].samplingShare != null ? `${(100 * med(v, 'samplingShare')).toFixed(0)} %` : '–'
    return [v, rps.toFixed(0), (rps / base.rps).toFixed(3), paired(v, 'requestsPerSecond').toFixed(3),
      `${Math.min(...all).toFixed(0)}–${Math.max(...all).toFixed(0)}`,
      `${med(v, 'p50Ms').toFixed(2)} ms`, `${med(v, 'p99Ms').toFixed(2)} ms`, (med(v, 'p99Ms') / base.p99).toFixed(2),
      paired(v, 'p99Ms').toFixed(2), `${med(v, 'cpuUsPerRequest').toFixed(1)} µs`,
      paired(v, 'cpuUsPerRequest').toFixed(3), share, ownCell(results[v])]
  })
  const header = ['variant', 'req/s (median)', 'ratio', 'per-round ratio (median)', 'req/s min–max', 'p50 (median)',
    'p99 (median)', 'p99 ratio', 'per-round p99 ratio (median)', 'server CPU per request (median)',
    'per-round CPU ratio (median)', 'profiler sampling (median share)',
    "leakwatch's own CPU per request: thread + callbacks + its GCs (median; share of the server's)"]
  console.log(markdownTable(header, rows))
  const fmt = (/** @type {number[]} */ l) => l.map((x) => x.toFixed(2)).join(' ')
  console.log(`\n${rounds} rounds, each variant once per round (order rotated), ${warmup} s warm-up + ${duration} s ` +
    `measured, ${connections} connections; server on CPU ${pinned ? serverCpu : 'any'}, autocannon on CPU ` +
    `${pinned ? loadCpu : 'any'}; ${seconds} s; node ${node}; ` +
    `load average (1/5/15 min) ${fmt(loadBefore)} before, ${fmt(loadAfter)} after, ${cpus} CPUs`)
}

main().catch((err) => {
  console.error(err)
  process.exit(1)
})
