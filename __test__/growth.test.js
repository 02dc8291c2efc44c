'use strict'

// Growth across a real series of snapshots of one process (fixtures/growth-series.js): a
// Map that gains 1,000 sessions between snapshots, a queue that grows and is then flushed,
// a steady table. The Map must rank first with its retained size at every snapshot; the
// queue must not be reported over the whole series (it is over the first three).

const { test, before, after } = require('node:test')
const assert = require('node:assert')
const fs = require('node:fs')
const os = require('node:os')
const path = require('node:path')
const leakwatch = require('..')
const { root, runCommand, jsonLines } = require('./helpers')

const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'leakwatch-growth-'))
after(() => fs.rmSync(dir, { recursive: true, force: true }))
let files

before(async () => {
  const res = await runCommand(process.execPath, [path.join(__dirname, 'fixtures/growth-series.js'), dir, '4'])
  assert.strictEqual(res.code, 0, res.stderr)
  const out = jsonLines(res)[0]
  files = out.files
  assert.strictEqual(files.length, 4)
  assert.deepStrictEqual([out.sessions, out.batch, out.steady], [4000, 10, 500])
})

const holds = (path, edge) => path.steps.some((s) => s.edge === edge)
const increasing = (values) => values.every((v, i) => i === 0 || v > values[i - 1])

test('four snapshots: the leaking Map ranks first, with its retained size in each and its path', async () => {
  const report = await leakwatch.diff(files)
  assert.strictEqual(report.growthBasis, 'new-in-second-alive-in-last')
  assert.strictEqual(report.snapshots.length, 4)
  const top = report.growing[0]
  assert.strictEqual(top.name, 'Map')
  assert.strictEqual(top.type, 'object')
  assert.strictEqual(top.retainedSize.length, 4)
  assert.ok(increasing(top.retainedSize), `grows at every snapshot: ${top.retainedSize}`)
  assert.strictEqual(top.growth, top.retainedSize[3] - top.retainedSize[0])
  // 3,000 sessions more between the first and the last, each with its strings and array.
  assert.ok(top.growth > 3000 * 100, `growth ${top.growth}`)
  assert.ok(holds(top.path, 'sessions'), top.pathText)
  assert.strictEqual(top.path.targetId, top.id)
  assert.ok(top.pathText.endsWith(`->sessions → Map @${top.id}`), top.pathText)
  // Ranked by growth; nothing that holds the Map is reported beside it.
  for (const [i, o] of report.growing.entries()) {
    assert.ok(increasing(o.retainedSize), `${o.name} @${o.id}`)
    if (i > 0) assert.ok(o.growth <= report.growing[i - 1].growth)
    assert.ok(!o.path.steps.some((s) => s.holderId === top.id) || o.id === top.id)
  }
  // The queue grew, then was flushed before the last snapshot; the steady table never grew.
  assert.ok(!report.growing.some((o) => holds(o.path, 'queue') || holds(o.path, 'items')), 'the flushed queue is not reported')
  assert.ok(!report.growing.some((o) => holds(o.path, 'steady')))
  const sessions = report.growingClasses.find((c) => c.name === 'Session')
  assert.ok(sessions, report.growingClasses.map((c) => c.name).join(', '))
  assert.deepStrictEqual(sessions.count, [1000, 2000, 3000, 4000])
  assert.ok(increasing(sessions.selfSize) && increasing(sessions.retainedSize))
  assert.strictEqual(sessions.growth, sessions.retainedSize[3] - sessions.retainedSize[0])
  assert.ok(holds(sessions.path, 'sessions'), sessions.pathText)
  assert.strictEqual(sessions.path.target, 'Session')
  assert.ok(!report.growingClasses.some((c) => c.name === 'Batch' || c.name === 'Credentials'))
})

test('three snapshots keep today\'s report and add the series; the queue still grows there', async () => {
  const three = files.slice(0, 3)
  const report = await leakwatch.diff(...three)
  assert.strictEqual(report.growthBasis, 'new-in-second-alive-in-third')
  assert.strictEqual(report.growth[0].name, 'Session')
  assert.strictEqual(report.growth[0].count, 1000, 'the sessions opened between the 1st and 2nd snapshot')
  const row = report.classes.find((r) => r.name === 'Session')
  assert.deepStrictEqual([row.addedCount, row.removedCount], [2000, 0])
  assert.deepStrictEqual(report.series.find((s) => s.name === 'Session').count, [1000, 2000, 3000])
  const whole = await leakwatch.diff(files)
  assert.strictEqual(report.growing[0].id, whole.growing[0].id, 'the same Map by id')
  assert.deepStrictEqual(report.growing[0].retainedSize, whole.growing[0].retainedSize.slice(0, 3))
  // Over the first three snapshots the queue grew every time: it is reported, so leaving it
  // out over four is the series' doing.
  assert.ok(report.growing.some((o) => holds(o.path, 'items')), report.growing.map((o) => o.pathText).join('\n'))
  // Two snapshots have no series.
  const two = await leakwatch.diff(files[0], files[3])
  assert.deepStrictEqual([two.growthBasis, two.growing, two.growingClasses], ['new-in-second', [], []])
})

test('diff takes 2 to 64 files as arguments or as an array', async () => {
  const spread = await leakwatch.diff(files[0], files[1], files[2], files[3], { groups: 2 })
  assert.strictEqual(spread.growing.length, 2)
  assert.strictEqual(spread.growing[0].name, 'Map')
  const bad = [
    () => leakwatch.diff([files[0]]),
    () => leakwatch.diff(files[0]),
    () => leakwatch.diff(new Array(65).fill(files[0])),
    () => leakwatch.diff([files[0], 42]),
    () => leakwatch.diff(files, {}, {}),
  ]
  for (const call of bad) await assert.rejects(call(), { code: 'ERR_LEAKWATCH_INVALID_ARGUMENT', name: 'TypeError' })
  await assert.rejects(leakwatch.diff(files, { top: 1 }), { code: 'ERR_LEAKWATCH_UNKNOWN_OPTION' })
  await assert.rejects(leakwatch.diff([files[0], files[1], path.join(dir, 'missing.heapsnapshot')]),
    { code: 'ERR_LEAKWATCH_SNAPSHOT_READ', errno: 'ENOENT' })
})

test('leakwatch diff A B C D prints and renders what grew at every snapshot', async () => {
  const page = path.join(dir, 'growth.html')
  const res = await runCommand(process.execPath, [path.join(root, 'bin/leakwatch.js'), 'diff', ...files, '--html', page])
  assert.strictEqual(res.code, 0, res.stderr)
  const report = await leakwatch.diff(files)
  const top = report.growing[0]
  assert.match(res.stdout, /Growing at every one of the 4 snapshots: objects by retained size\n {2}1\. Map @\d+ \+/)
  assert.ok(res.stdout.includes(`1. Map @${top.id} +`), res.stdout)
  assert.match(res.stdout, /Growing at every one of the 4 snapshots: classes by count\n[^]*Session — count 1,000 → 2,000 → 3,000 → 4,000/)
  assert.match(res.stdout, /Still alive: allocated between the 1st and 2nd snapshot and alive in the last/)
  const html = fs.readFileSync(page, 'utf8')
  assert.ok(html.includes('Growing at every one of the 4 snapshots'))
  assert.ok(html.includes(`@${top.id}`))
  const json = await runCommand(process.execPath, [path.join(root, 'bin/leakwatch.js'), 'diff', ...files, '--json'])
  assert.strictEqual(json.code, 0, json.stderr)
  assert.strictEqual(JSON.parse(json.stdout).growing[0].pathText, top.pathText)
})
