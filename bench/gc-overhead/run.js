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

const here = __dirname
const peersDir = path.join(here, '..', 'peers')
const args = process.argv.slice(2)
const opt = (name, fallback) => {
  const i = args.indexOf(name)
  return i >= 0 ? Number(args[i + 1]) : fallback
}
const ROUNDS = opt('--rounds', 7)
const CHUNKS = opt('--chunks', 150)
const CG_CHUNKS = opt('--callgrind-chunks', 150)
const NODE_FLAGS = ['--predictable', '--max-semi-space-size=1']
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
    child.on('close', (code) => {
      const line = out.split('\n').find((l) => l.startsWith('{'))
      const collected = /Collected : (\d+)/.exec(err)
      resolve({
        code, result: line ? JSON.parse(line) : null,
        instructions: collected ? Number(collected[1]) : null, stderr: err,
      })
    })
  })
}

const median = (xs) => {
  const s = [...xs].sort((a, b) => a - b)
  const m = s.length >> 1
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2
}

async function pool(tasks, size) {
  const results = new Array(tasks.length)
  let next = 0
  await Promise.all(Array.from({ length: size }, async () => {
    while (next < tasks.length) {
      const i = next++
      results[i] = await tasks[i]()
    }
  }))
  return results
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
  const pairs = []
  let leakwatchRuns = []
  for (let round = 0; round < ROUNDS; round++) {
    const order = modes.map((_, i) => modes[(i + round) % modes.length])
    const times = {}
    for (const m of order) {
      const r = await runJob(m.mode, CHUNKS)
      if (r.code !== 0 || !r.result) throw new Error(`${m.mode} failed: ${r.stderr}`)
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
  if (valgrind.status === 0) {
    const prefix = ['valgrind', '--tool=callgrind', '--callgrind-out-file=/dev/null']
    const tasks = modes.flatMap((m) => [CG_CHUNKS, 0].map((chunks) => async () => {
      const r = await runJob(m.mode, chunks, prefix)
      process.stderr.write(`callgrind ${m.mode} chunks=${chunks}: ${r.instructions}\n`)
      return { mode: m.mode, chunks, r }
    }))
    for (const { mode, chunks, r } of await pool(tasks, Math.max(1, Math.min(2, os.cpus().length)))) {
      if (r.code !== 0 || r.instructions === null) throw new Error(`callgrind ${mode} failed: ${r.stderr.slice(-2000)}`)
      counts[mode] = counts[mode] || {}
      counts[mode][chunks === 0 ? 'startup' : 'total'] = r.instructions
      if (chunks !== 0) counts[mode].result = r.result
    }
  }

  const base = counts.baseline && counts.baseline.total - counts.baseline.startup
  const baseWall = median(wall.baseline)
  const rows = modes.map((m) => {
    const c = counts[m.mode]
    const job = c ? c.total - c.startup : null
    return {
      label: m.label,
      instructions: job,
      instrRatio: job && base ? base / job : null,
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
  console.log('| run | instructions (job) | throughput ratio by instructions | wall median (ms) | throughput ratio by wall |')
  console.log('|---|---:|---:|---:|---:|')
  for (const r of rows) {
    console.log(`| ${r.label} | ${r.instructions === null ? 'n/a' : (r.instructions / 1e6).toFixed(1) + ' M'} | ` +
      `${fmt(r.instrRatio, 4)} | ${r.wallMs.toFixed(0)} | ${fmt(r.wallRatio)} |`)
  }
  const p50s = leakwatchRuns.map((r) => r.callbackP50Ns)
  const means = leakwatchRuns.map((r) => r.callbackMeanNs)
  const p99s = leakwatchRuns.map((r) => r.callbackP99Ns)
  console.log(`\nleakwatch, paired wall ratio (baseline/leakwatch, median of ${ROUNDS} pairs): ${fmt(median(pairs))}`)
  console.log(`leakwatch GC callback cost measured inside the callbacks (median over rounds): ` +
    `p50 ≤ ${median(p50s)} ns, mean ${median(means).toFixed(0)} ns, p99 ≤ ${median(p99s)} ns ` +
    `(${leakwatchRuns[0].callbacks} callbacks a run)`)
  if (missing.length) console.log(`not measured (did not install here): ${missing.join(', ')}`)
  console.log('ratios: baseline ÷ run, so 1.000 = no overhead and 0.990 = 1 % slower')
}

main().catch((err) => {
  console.error(err)
  process.exit(1)
})
