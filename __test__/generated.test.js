'use strict'

// The benchmark's generated snapshots (bench/analyze/generate.js, which writes 1–4 GB files
// for `bench:analyze --big`) at a few MB: DevTools' own code reads them to the same class
// table and Comparison view as leakwatch, their shape is a real dump's (edges and bytes per
// node), and a three-snapshot series names the leak it plants.

const { test, before, after } = require('node:test')
const assert = require('node:assert')
const fs = require('node:fs')
const os = require('node:os')
const path = require('node:path')
const leakwatch = require('..')
const { root, runCommand, jsonLines, assertClassesEqualDevTools, assertDiffEqualsDevTools } = require('./helpers')

const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'leakwatch-generated-'))
let files

before(async () => {
  const res = await runCommand(process.execPath, [path.join(root, 'bench/analyze/generate.js'), '--out', dir,
    '--sessions', '1500', '--snapshots', '3', '--leak-per-step', '700'])
  assert.strictEqual(res.code, 0, res.stderr)
  files = jsonLines(res)[0].files
})

after(() => fs.rmSync(dir, { recursive: true, force: true }))

test('generated snapshots: class tables equal DevTools\'', async () => {
  for (const file of files) {
    const report = await assertClassesEqualDevTools(file)
    // Shaped as a real dump of bench/analyze/workload.js: ~3 edges and ~75 bytes of file per node.
    const perNode = fs.statSync(file).size / report.summary.nodeCount
    assert.ok(perNode > 60 && perNode < 95, `${perNode} bytes per node`)
    for (const name of ['Session', 'User', 'OrderLine', 'Map', 'Set', '{onRequest, close}', '(concatenated string)']) {
      assert.ok(report.classes.some((c) => c.name === name), `class ${name}`)
    }
  }
})

test('generated series: the diff equals DevTools\' Comparison view and names the leak', async () => {
  const [a, , c] = files
  const report = await leakwatch.diff(a, c, { classes: Infinity })
  await assertDiffEqualsDevTools(a, c, report)
  // Sessions expire between snapshots (removed), request records pile up (added).
  assert.ok(report.classes.find((r) => r.name === 'Session').removedCount > 0)
  const three = await leakwatch.diff(...files)
  assert.strictEqual(three.growthBasis, 'new-in-second-alive-in-third')
  assert.strictEqual(three.growth[0].name, 'RequestRecord')
  assert.strictEqual(three.growth[0].count, 700)
  assert.ok(three.growth[0].path.steps.some((s) => s.edge === 'recordsById'))
})
