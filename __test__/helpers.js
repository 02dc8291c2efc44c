'use strict'

const { spawn } = require('node:child_process')
const path = require('node:path')

const root = path.join(__dirname, '..')
const scripts = path.join(__dirname, 'fixtures', 'scripts')

/**
 * Runs a script of __test__/fixtures/scripts/ in a child process (its parameters in `args`
 * and `env`). Resolves with { code, signal, stdout, stderr, lines }. `prefix` is a command
 * the node invocation is appended to (e.g. a namespace or user switch).
 */
function runFixture(name, { args = [], env = {}, timeoutMs = 60_000, nodeArgs = [], prefix = [] } = {}) {
  const [command, ...rest] = [...prefix, process.execPath, ...nodeArgs, path.join(scripts, name), ...args]
  return runCommand(command, rest, { env, timeoutMs })
}

/**
 * Runs a command in a child process (default cwd: the package root). `env` is added to this
 * process's environment unless `cleanEnv`. Resolves with { code, signal, stdout, stderr, lines }.
 */
function runCommand(command, args, { cwd = root, env = {}, cleanEnv = false, timeoutMs = 60_000 } = {}) {
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, {
      cwd,
      env: cleanEnv ? env : { ...process.env, ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
    })
    let stdout = ''
    let stderr = ''
    child.stdout.on('data', (d) => { stdout += d })
    child.stderr.on('data', (d) => { stderr += d })
    const timer = setTimeout(() => {
      child.kill('SIGKILL')
      reject(new Error(`${command} timed out after ${timeoutMs} ms\nstdout: ${stdout}\nstderr: ${stderr}`))
    }, timeoutMs)
    child.on('error', reject)
    child.on('close', (code, signal) => {
      clearTimeout(timer)
      resolve({ code, signal, stdout, stderr, lines: stdout.split('\n').filter(Boolean) })
    })
  })
}

/** Parses the lines of a child's stdout that are JSON (others are ignored). */
function jsonLines(result) {
  return result.lines.flatMap((line) => {
    try { return [JSON.parse(line)] } catch { return [] }
  })
}

/**
 * Skips test `t` because this machine lacks an optional tool, saying what could not be checked
 * and why. The reason is printed with the test, and `npm test` (scripts/test.js) repeats every
 * such reason in its closing summary. Call it as `return notChecked(t, reason)`.
 */
function notChecked(t, reason) {
  t.diagnostic(`not checked: ${reason}`)
  t.skip(`not checked: ${reason}`)
}

/**
 * Analyses `file` with leakwatch and with DevTools' own code (heap-snapshot-toolkit) and
 * asserts that every class — count, self and retained size, distance — and the totals are
 * equal. Resolves with leakwatch's report.
 */
async function assertClassesEqualDevTools(file) {
  const assert = require('node:assert/strict')
  const fs = require('node:fs')
  const { Readable } = require('node:stream')
  const devtools = await import('heap-snapshot-toolkit')
  const report = await require('..').analyze(file, { classes: Infinity, paths: 0, largest: 0 })
  const snap = await devtools.parse(Readable.from([fs.readFileSync(file, 'utf8')]))
  const expected = snap.aggregatesWithFilter({})
  const mine = new Map(report.classes.map((c) => [c.key, c]))
  assert.strictEqual(mine.size, Object.keys(expected).length, `${file}: number of classes`)
  for (const [key, a] of Object.entries(expected)) {
    const m = mine.get(key)
    assert.ok(m, `${file}: class ${key} is missing`)
    assert.deepStrictEqual(
      { name: m.name, count: m.count, self: m.selfSize, retained: m.retainedSize, distance: m.distance },
      { name: a.name, count: a.count, self: a.self, retained: a.maxRet, distance: a.distance },
      `${file}: class ${key}`)
  }
  assert.strictEqual(report.summary.totalSize, snap.totalSize)
  assert.strictEqual(report.summary.nodeCount, snap.nodeCount)
  return report
}

/**
 * Asserts that leakwatch's diff `report` of snapshots `base` → `current` (files) equals
 * DevTools' Comparison view on every class: counts and sizes added, removed and their deltas.
 * As the Comparison view does, the base is classified with the current snapshot's groups.
 */
async function assertDiffEqualsDevTools(base, current, report) {
  const assert = require('node:assert/strict')
  const fs = require('node:fs')
  const { Readable } = require('node:stream')
  const devtools = await import('heap-snapshot-toolkit')
  const parse = (file) => devtools.parse(Readable.from([fs.readFileSync(file, 'utf8')]))
  const [a, c] = [await parse(base), await parse(current)]
  const expected = c.calculateSnapshotDiff(a.uid, a.aggregatesForDiff(c.interfaceDefinitions()))
  const mine = new Map(report.classes.map((r) => [r.key, r]))
  assert.strictEqual(mine.size, Object.keys(expected).length, 'number of classes')
  for (const [key, d] of Object.entries(expected)) {
    const m = mine.get(key)
    assert.ok(m, `class ${key} is missing`)
    assert.deepStrictEqual(
      [m.name, m.addedCount, m.removedCount, m.addedSize, m.removedSize, m.countDelta, m.sizeDelta],
      [d.name, d.addedCount, d.removedCount, d.addedSize, d.removedSize, d.countDelta, d.sizeDelta], key)
  }
}

module.exports = { root, runFixture, runCommand, jsonLines, notChecked, assertClassesEqualDevTools, assertDiffEqualsDevTools }
