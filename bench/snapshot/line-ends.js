'use strict'

// What the line-ends step buys and costs, per Node version: a heap holding a generated
// single-file script (N small functions), dumped by leakwatch with the step forced on and
// forced off (LEAKWATCH_LINE_ENDS), each dump in a fresh process; and the step alone — its
// first and second call, the heap it leaves held, a hot loop's throughput after it against a
// process that did not run it. A dump without the step is bounded by the pause budget
// (--budget-ms; abandoned at 1.25 × it), so a quadratic one shows as "abandoned".
//
//   node bench/snapshot/line-ends.js [--nodes /path/to/node,...] [--functions 10000,40000]
//     [--budget-ms 60000] [--runs 1]

const { spawnSync } = require('node:child_process')
const fs = require('node:fs')
const os = require('node:os')
const path = require('node:path')
const { option, median, markdownTable } = require('../common')

const argv = process.argv.slice(2)
const nodes = option(argv, '--nodes', process.execPath).split(',')
const counts = option(argv, '--functions', '10000,40000').split(',').map(Number)
const budgetMs = option(argv, '--budget-ms', '60000')
const runs = Number(option(argv, '--runs', '1'))
const MB = 1024 * 1024

function child(node, args, env) {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'lw-bench-line-ends-'))
  try {
    const out = spawnSync(node, [path.join(__dirname, 'line-ends-child.js'), ...args, '--dir', dir, '--budget-ms', budgetMs],
      { encoding: 'utf8', env: { ...process.env, ...env }, timeout: 30 * 60_000 })
    if (out.status !== 0) throw new Error(`${node} ${args.join(' ')}: exit ${out.status}\n${out.stderr}`)
    return JSON.parse(out.stdout.trim().split('\n').pop())
  } finally {
    fs.rmSync(dir, { recursive: true, force: true })
  }
}

const version = (node) => spawnSync(node, ['--version'], { encoding: 'utf8' }).stdout.trim()
const seconds = (ms) => `${(ms / 1000).toFixed(2)} s`
/** A dump's pause, or how long it ran before it was abandoned. */
const pause = (results) => {
  const abandoned = results.filter((r) => !r.written)
  if (abandoned.length) return `> ${seconds(median(abandoned.map((r) => r.pauseMs)))} (abandoned)`
  return seconds(median(results.map((r) => r.pauseMs)))
}

const dumps = []
const steps = []
for (const node of nodes) {
  const v = version(node)
  for (const functions of counts) {
    const on = []
    const off = []
    for (let r = 0; r < runs; r++) {
      on.push(child(node, ['--mode', 'dump', '--functions', String(functions)], { LEAKWATCH_LINE_ENDS: 'on' }))
      off.push(child(node, ['--mode', 'dump', '--functions', String(functions)], { LEAKWATCH_LINE_ENDS: 'off' }))
    }
    dumps.push([v, String(functions), `${(on[0].scriptBytes / MB).toFixed(1)} MB`,
      `${(median(on.map((r) => r.heapUsed)) / MB).toFixed(0)} MB`, pause(on), pause(off)])
  }
  const functions = String(Math.max(...counts))
  const step = child(node, ['--mode', 'step', '--functions', functions])
  const control = child(node, ['--mode', 'control', '--functions', functions])
  steps.push([v, functions, `${step.firstMs.toFixed(0)} ms`, `${step.secondMs.toFixed(0)} ms`,
    `${(step.heldBytes / MB).toFixed(1)} MB`, step.throughputRatio.toFixed(2), control.throughputRatio.toFixed(2)])
}

console.log(markdownTable(['node', 'functions', 'script', 'heap used', 'pause with line ends', 'pause without'], dumps))
console.log(`\n${runs} run(s) per cell, each dump in a fresh process (leakwatch.writeSnapshot(), wall time around it, ` +
  `the line-ends step included when on); without: abandoned at 1.25 × maxPauseMs ${budgetMs} ms\n`)
console.log(markdownTable(['node', 'functions', 'step, first call', 'step, again', 'heap held after',
  'hot loop after / before', 'same, no step (noise)'], steps))
