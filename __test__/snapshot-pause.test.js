'use strict'

// Heap snapshots and time: the line ends computed before a dump on Node 20 (a large script
// no longer makes the dump quadratic) and the pause budget (snapshot.maxPauseMs) that skips
// or abandons a dump. Outcomes only, never durations: the machines that run this vary.

const test = require('node:test')
const assert = require('node:assert/strict')
const fs = require('node:fs')
const os = require('node:os')
const path = require('node:path')
const { runFixture, jsonLines } = require('./helpers')
const { prepareLineEnds, NEEDS_LINE_ENDS, V8_MAJOR } = require('../lib/line-ends')

function tempDir(tag) {
  return fs.mkdtempSync(path.join(os.tmpdir(), `lw-pause-${tag}-`))
}

test('the line-ends step runs synchronously through the in-process inspector, on V8 11 only', () => {
  assert.equal(NEEDS_LINE_ENDS, V8_MAJOR < 12)
  const auto = prepareLineEnds()
  assert.equal(auto.ran, NEEDS_LINE_ENDS, auto.error && auto.error.message)
  const forced = prepareLineEnds({ force: true })
  assert.equal(forced.ran, true, forced.error && forced.error.message)
  assert.equal(forced.error, undefined)
})

test('a heap holding a 40,000-function single-file script is dumped completely (Node 20: line ends first)', async () => {
  const dir = tempDir('big')
  // Without line ends, Node 20 spends minutes on this dump (functions × script length).
  const r = await runFixture('snapshot-big-script.js', { args: [dir, '40000'], timeoutMs: 600_000 })
  assert.equal(r.code, 0, r.stderr)
  const [out] = jsonLines(r)
  assert.equal(out.handlers, 40000)
  assert.equal(out.skipped, undefined, JSON.stringify(out.skipped))
  assert.ok(out.written, JSON.stringify(out))
  assert.deepEqual(out.files, [path.basename(out.written.path)])
  const parsed = JSON.parse(fs.readFileSync(out.written.path, 'utf8'))
  assert.ok(parsed.snapshot.meta.node_fields.includes('name'))
  assert.ok(parsed.strings.includes('handler39999'), 'the script\'s functions are in the snapshot')
  assert.ok(out.written.estimate.pauseMs > 0)
  fs.rmSync(dir, { recursive: true })
})

test('a pause budget below the estimate skips the dump: reason pause, expectedMs over budgetMs, statistics instead', async () => {
  const dir = tempDir('skip')
  const r = await runFixture('snapshot-big-script.js', { args: [dir, '40000', JSON.stringify({ maxPauseMs: 100 })], timeoutMs: 300_000 })
  assert.equal(r.code, 0, r.stderr)
  const [out] = jsonLines(r)
  assert.equal(out.written, undefined)
  assert.equal(out.code, 'ERR_LEAKWATCH_SNAPSHOT_SKIPPED')
  assert.equal(out.skipped.reason, 'pause')
  assert.equal(out.skipped.budgetMs, 100)
  assert.ok(out.skipped.expectedMs > 100, JSON.stringify(out.skipped))
  assert.equal(out.skipped.aborted, undefined)
  assert.match(out.skipped.message, /over the pause budget of 100 ms/)
  // No snapshot: the heap statistics written instead.
  assert.deepEqual(out.files, [path.basename(out.skipped.evidence.statistics)])
  assert.match(out.files[0], /-api\.heapstats\.json$/)
  fs.rmSync(dir, { recursive: true })
})

test('a dump that runs past its pause budget is abandoned while V8 builds the graph, leaving no snapshot', async () => {
  const dir = tempDir('abort')
  // The first dump (number arrays: fast per byte) teaches a low pause per byte; the second
  // heap (small objects: many per byte) gets a budget its estimate fits (at least 1 s), and
  // takes many times longer (let run on this project's machine: 19.6 s on Node 20, 26.9 s on
  // Node 26, against estimates near 1.2 s).
  const r = await runFixture('snapshot-pause-abort.js', { args: [dir, '1000'], timeoutMs: 300_000 })
  assert.equal(r.code, 0, r.stderr)
  const [out] = jsonLines(r)
  assert.equal(out.probe.reason, 'pause', JSON.stringify(out))
  assert.equal(out.second, undefined, JSON.stringify(out))
  assert.equal(out.code, 'ERR_LEAKWATCH_SNAPSHOT_SKIPPED')
  assert.equal(out.skipped.reason, 'pause')
  assert.equal(out.skipped.aborted, true, JSON.stringify(out.skipped))
  assert.equal(out.skipped.budgetMs, out.budget)
  assert.ok(out.skipped.expectedMs <= out.budget && out.skipped.elapsedMs >= out.budget * 1.25, JSON.stringify(out.skipped))
  assert.match(out.skipped.message, new RegExp(`abandoned after \\d+ ms: past the pause budget of ${out.budget} ms.*no file was left`))
  assert.deepEqual(out.files.sort(), [out.first.path, out.probe.evidence.statistics, out.skipped.evidence.statistics]
    .map((f) => path.basename(f)).sort(), 'only the first dump and the statistics left by the refusals; no partial file')
  fs.rmSync(dir, { recursive: true })
})
