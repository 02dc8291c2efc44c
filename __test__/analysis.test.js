'use strict'

// Snapshot analysis from the package: equality with DevTools' own code (heap-snapshot-toolkit
// runs it in Node) on real snapshots, the server leak named with defaults, HeapDiff in
// memwatch's shape and on a 1,000,000-node list, bad input and fuzzed snapshots, abort,
// workers.

const { test, before, after } = require('node:test')
const assert = require('node:assert')
const fs = require('node:fs')
const os = require('node:os')
const path = require('node:path')
const leakwatch = require('..')
const { root, runFixture, runCommand, jsonLines, assertClassesEqualDevTools, assertDiffEqualsDevTools } = require('./helpers')
const corrupt = require('./fixtures/corrupt')
const crafted = require('./fixtures/crafted')

const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'leakwatch-analysis-'))
after(() => fs.rmSync(dir, { recursive: true, force: true }))
let shapes

before(async () => {
  const res = await runCommand(process.execPath, [path.join(__dirname, 'fixtures/heap-shapes.js'), dir, '3'])
  assert.strictEqual(res.code, 0, res.stderr)
  shapes = jsonLines(res)[0].files
})

test('per-class counts, self sizes, retained sizes and distances equal DevTools', async () => {
  for (const file of shapes) {
    const report = await assertClassesEqualDevTools(file)
    // The shapes DevTools splits and groups are there.
    const widgets = report.classes.filter((c) => c.name === 'Widget')
    assert.strictEqual(widgets.length, 2, 'two Widget classes from two scripts')
    assert.ok(report.classes.some((c) => c.name === '{name, value}'), 'plain objects grouped by property set')
  }
})

test('objects nothing retains — cycles, and nodes held only weakly — get DevTools\' dominators', async () => {
  // Random graphs with a cycle of objects that retain only each other (no retaining path from
  // the root reaches them), weak edges and nodes held only weakly: DevTools hangs what stays
  // unreachable off the root. Every node has a class of its own, so the class table compares
  // each node's retained size and distance.
  let seed = 12345
  const next = (bound) => {
    seed = (seed * 1103515245 + 12345) % 2147483648
    return seed % bound
  }
  for (let round = 0; round < 40; round++) {
    const count = 10 + next(30)
    const b = new crafted.Builder()
    const empty = b.string('')
    const out = Array.from({ length: count }, () => [])
    for (let from = 0; from < count; from++) {
      for (let k = next(4); k > 0; k--) out[from].push([next(10) === 0 ? 'weak' : 'property', next(count)])
    }
    // The last few point at each other only.
    const size = 2 + next(4)
    const cycle = new Set(Array.from({ length: size }, (_, i) => count - size + i))
    for (let from = 0; from < count; from++) {
      if (!cycle.has(from)) out[from] = out[from].filter(([, to]) => !cycle.has(to))
    }
    for (let i = 0; i < size; i++) out[count - size + i].push(['property', count - size + ((i + 1 + next(size - 1)) % size)])
    b.node('synthetic', empty, 0)
    for (let i = 1; i < count; i++) b.node('object', b.string(`N${i}`), 1 + (i % 7))
    const name = b.string('p')
    for (let from = 0; from < count; from++) for (const [type, to] of out[from]) b.edge(from, type, name, to)
    const file = path.join(dir, `unreachable-${round}.heapsnapshot`)
    fs.writeFileSync(file, b.text())
    await assertClassesEqualDevTools(file)
  }
})

test('a two-snapshot diff equals DevTools\' Comparison view', async () => {
  const [a, , c] = shapes
  const report = await leakwatch.diff(a, c, { classes: Infinity })
  await assertDiffEqualsDevTools(a, c, report)
  const widget = report.classes.find((r) => r.name === 'Widget' && r.removedCount > 0)
  assert.ok(widget, 'deleted widgets are counted')
  assert.ok(report.growth.length > 0 && report.growthBasis === 'new-in-second')
})

test('three snapshots of a leaking HTTP server name the class and the path that holds it (defaults)', async () => {
  const out = fs.mkdtempSync(path.join(dir, 'http-'))
  const res = await runCommand(process.execPath, [path.join(__dirname, 'fixtures/leaky-http.js'), out], { timeoutMs: 120_000 })
  assert.strictEqual(res.code, 0, res.stderr)
  const { files } = jsonLines(res)[0]
  assert.strictEqual(files.length, 3)
  const report = await leakwatch.diff(...files)
  assert.strictEqual(report.growthBasis, 'new-in-second-alive-in-third')
  const top = report.growth[0]
  assert.strictEqual(top.name, 'ReportContext')
  assert.strictEqual(top.count, 600, 'the 600 requests between the 1st and 2nd snapshot')
  assert.ok(top.retainedSize > top.selfSize)
  const edges = top.path.steps.map((s) => s.edge)
  assert.ok(edges.includes('contextsByRequest'), `path names the Map: ${edges.join(' ')}`)
  assert.strictEqual(top.path.steps.at(-1).holder, '(array)', 'the Map\'s backing table holds the entry')
  assert.strictEqual(top.path.target, 'ReportContext')
  // The class table shows the growth too.
  const row = report.classes.find((r) => r.name === 'ReportContext')
  assert.strictEqual(row.addedCount, 1200)
  assert.strictEqual(row.removedCount, 0)
})

test('HeapDiff has memwatch\'s shape', async () => {
  const res = await runFixture('analysis-heapdiff.js')
  assert.strictEqual(res.code, 0, res.stderr)
  const { diff, again, tmp } = jsonLines(res)[0]
  assert.deepStrictEqual(Object.keys(diff), ['before', 'after', 'change'])
  for (const side of [diff.before, diff.after]) {
    assert.deepStrictEqual(Object.keys(side).sort(), ['nodes', 'size', 'size_bytes', 'time'])
    assert.ok(side.nodes > 1000 && side.size_bytes > 100000)
    assert.match(side.size, /^\d+\.\d\d (kb|mb)$/)
  }
  assert.deepStrictEqual(Object.keys(diff.change).sort(), ['allocated_nodes', 'details', 'freed_nodes', 'size', 'size_bytes'])
  assert.strictEqual(diff.change.size_bytes, diff.after.size_bytes - diff.before.size_bytes)
  const leaking = diff.change.details.find((d) => d.what === 'LeakingClass')
  assert.deepStrictEqual(Object.keys(leaking), ['what', 'size_bytes', 'size', '+', '-'])
  assert.strictEqual(leaking['+'], 10000)
  assert.strictEqual(leaking['-'], 0)
  assert.ok(leaking.size_bytes >= 10000 * 16)
  assert.ok(diff.change.allocated_nodes >= 10000)
  assert.strictEqual(again, 'ERR_LEAKWATCH_HEAPDIFF_ENDED')
  assert.deepStrictEqual(tmp, [], 'temporary snapshots are removed')
})

test('HeapDiff dumps through the guarded writer: a pause budget too small for the heap refuses it', async () => {
  const res = await runFixture('analysis-heapdiff-budget.js')
  assert.strictEqual(res.code, 0, res.stderr)
  const { thrown, tmp } = jsonLines(res)[0]
  assert.ok(thrown, 'new HeapDiff() threw')
  assert.strictEqual(thrown.code, 'ERR_LEAKWATCH_SNAPSHOT_SKIPPED')
  assert.strictEqual(thrown.reason, 'pause')
  assert.strictEqual(thrown.budgetMs, 100)
  assert.ok(thrown.expectedMs > 100, `expected ${thrown.expectedMs} ms`)
  assert.deepStrictEqual(tmp, [], 'nothing left in the temporary directory')
})

test('HeapDiff over a 1,000,000-node linked list does not crash (no recursion)', async () => {
  const res = await runFixture('analysis-heapdiff-linked-list.js', { timeoutMs: 180_000, nodeArgs: ['--max-old-space-size=4096'] })
  assert.strictEqual(res.code, 0, res.stderr)
  assert.strictEqual(res.signal, null)
  const out = jsonLines(res)[0]
  assert.strictEqual(out.added, 1e6)
  assert.ok(out.nodes > 1e6)
})

test('analyze reports the largest objects with retainer paths', async () => {
  const report = await leakwatch.analyze(shapes[2])
  assert.strictEqual(report.classes.length, 50, 'default: 50 classes')
  assert.strictEqual(report.classes.filter((c) => c.path).length, 10, 'default: 10 paths')
  assert.strictEqual(report.largest.length, 10)
  for (const o of report.largest) {
    assert.ok(o.retainedSize >= o.selfSize)
    assert.strictEqual(o.path.target, o.name)
  }
  const keepPath = report.classes.find((c) => c.name === 'Map' && c.path)
  assert.ok(keepPath, 'Map has a path')
})

test('bad input rejects with a clear error and a code', async () => {
  const cases = [
    [path.join(dir, 'missing.heapsnapshot'), 'ERR_LEAKWATCH_SNAPSHOT_READ', /cannot open/],
    [dir, 'ERR_LEAKWATCH_SNAPSHOT_READ', /is a directory/],
    ['/proc/self/mem', 'ERR_LEAKWATCH_SNAPSHOT_READ', /cannot read/],
  ]
  for (const file of fs.readdirSync(path.join(__dirname, 'fixtures/snapshots'))) {
    const kind = file.split('-')[0]
    if (kind === 'ok') continue
    const code = `ERR_LEAKWATCH_SNAPSHOT_${kind.toUpperCase()}`
    cases.push([path.join(__dirname, 'fixtures/snapshots', file), code, /./])
  }
  for (const [file, code, message] of cases) {
    await assert.rejects(leakwatch.analyze(file), (err) => {
      assert.strictEqual(err.code, code, `${file}: ${err.message}`)
      assert.match(err.message, message)
      assert.ok(err.message.includes(file), `the message names the file: ${err.message}`)
      return true
    })
  }
  for (const file of fs.readdirSync(path.join(__dirname, 'fixtures/snapshots')).filter((f) => f.startsWith('ok-'))) {
    const report = await leakwatch.analyze(path.join(__dirname, 'fixtures/snapshots', file))
    assert.strictEqual(report.summary.nodeCount, 7, file)
    assert.strictEqual(report.summary.totalSize, 144, file)
  }
  // Offsets point into the file.
  await assert.rejects(leakwatch.analyze(path.join(__dirname, 'fixtures/snapshots/syntax-bad-token.heapsnapshot')),
    (err) => err.offset > 0 && /at byte \d+/.test(err.message))
  // Options and arguments.
  await assert.rejects(leakwatch.analyze(''), { code: 'ERR_LEAKWATCH_INVALID_ARGUMENT' })
  await assert.rejects(leakwatch.analyze(42), { code: 'ERR_LEAKWATCH_INVALID_ARGUMENT' })
  await assert.rejects(leakwatch.analyze(shapes[0], { clases: 3 }), { code: 'ERR_LEAKWATCH_UNKNOWN_OPTION' })
  await assert.rejects(leakwatch.analyze(shapes[0], { classes: -1 }), { code: 'ERR_LEAKWATCH_OPTION_OUT_OF_RANGE' })
  await assert.rejects(leakwatch.analyze(shapes[0], { signal: {} }), { code: 'ERR_LEAKWATCH_INVALID_ARGUMENT' })
  await assert.rejects(leakwatch.diff(shapes[0]), { code: 'ERR_LEAKWATCH_INVALID_ARGUMENT' })
  await assert.rejects(leakwatch.diff(shapes[0], shapes[1], { groups: 1.5 }), { code: 'ERR_LEAKWATCH_OPTION_OUT_OF_RANGE' })
})

test('fuzzed snapshots resolve or reject with a snapshot code, never crash', async () => {
  const seeds = [['tiny', corrupt.tiny(), 400], ['real', fs.readFileSync(shapes[0], 'utf8'), 60]]
  const codes = new Map()
  for (const [name, text, count] of seeds) {
    const mutants = corrupt.mutations(text, count, name.length)
    for (const [i, mutant] of mutants.entries()) {
      const file = path.join(dir, `fuzz-${name}-${i}.heapsnapshot`)
      fs.writeFileSync(file, mutant)
      try {
        await leakwatch.analyze(file, { classes: 5, paths: 2, largest: 2 })
        codes.set('ok', (codes.get('ok') || 0) + 1)
      } catch (err) {
        assert.match(err.code, /^ERR_LEAKWATCH_SNAPSHOT_(EMPTY|TRUNCATED|SYNTAX|META|RANGE)$/, `${file}: ${err.stack}`)
        codes.set(err.code, (codes.get(err.code) || 0) + 1)
      }
      fs.unlinkSync(file)
    }
  }
  // The mutations reach every kind of fault.
  for (const code of ['TRUNCATED', 'SYNTAX', 'RANGE']) {
    assert.ok(codes.get(`ERR_LEAKWATCH_SNAPSHOT_${code}`) > 0, `no ${code} among ${[...codes]}`)
  }
})

test('an analysis can be aborted, before or while it runs', async () => {
  const controller = new AbortController()
  controller.abort(new Error('not needed'))
  await assert.rejects(leakwatch.analyze(shapes[0], { signal: controller.signal }),
    (err) => err.name === 'AbortError' && err.code === 'ERR_LEAKWATCH_ABORTED' && err.cause.message === 'not needed')
  const running = new AbortController()
  const pending = leakwatch.diff(shapes[0], shapes[1], shapes[2], { signal: running.signal })
  setImmediate(() => running.abort())
  await assert.rejects(pending, { code: 'ERR_LEAKWATCH_ABORTED', name: 'AbortError' })
  // Progress: while it runs (every 100 ms) and once at the end.
  const seen = []
  await leakwatch.analyze(shapes[2], { onProgress: (p) => seen.push(p) })
  const last = seen.at(-1)
  assert.strictEqual(last.phase, 'done')
  assert.strictEqual(last.files, 1)
  assert.strictEqual(last.bytesRead, fs.statSync(shapes[2]).size)
  assert.strictEqual(last.bytesTotal, last.bytesRead)
})

test('aborting an analysis of a crafted snapshot frees the one threadpool thread at once', async () => {
  // 4,000 WeakMap-style edges and as many plain objects sharing one 1 MB name (the file from
  // the report: 7.5 s of work before names were read once per string), 40,000 plain
  // objects × 28 properties × 496 interface definitions, and 4,000 located classes sharing
  // one 256 KiB name (2.3 s before the class keys were built without their text).
  const files = {
    'weakmap-names': longNames(),
    interfaces: crafted.interfaces({ names: 32, perPair: 80, big: 40000 }).text(),
    'located-classes': locatedClasses(),
  }
  const small = path.join(dir, 'small.txt')
  fs.writeFileSync(small, 'x')
  for (const [name, text] of Object.entries(files)) {
    const file = path.join(dir, `crafted-${name}.heapsnapshot`)
    fs.writeFileSync(file, text)
    const res = await runFixture('analysis-abort-threadpool.js', { args: [file, small], env: { UV_THREADPOOL_SIZE: '1' }, timeoutMs: 120_000 })
    assert.strictEqual(res.code, 0, res.stderr)
    const r = jsonLines(res)[0]
    // Aborted (or done before an abort could land) — either way the read that queued behind
    // it completed, having used less than half the CPU time of the whole analysis.
    assert.ok(r.outcome === 'ERR_LEAKWATCH_ABORTED' || (r.outcome === 'finished' && !r.aborted), JSON.stringify(r))
    assert.ok(r.freedMs < Math.max(r.wholeMs / 2, 1), `${name}: ${JSON.stringify(r)}`)
  }
})

/** 4,000 objects of one class with a 256 KiB name, each at its own allocation site. */
function locatedClasses() {
  const b = new crafted.Builder()
  const empty = b.string('')
  const name = b.string(`C${'x'.repeat(256 << 10)}`)
  const root = b.node('synthetic', empty, 0)
  const objects = Array.from({ length: 4000 }, () => b.node('object', name, 16))
  for (const o of objects) b.edge(root, 'element', 1, o)
  const locations = objects.map((o, i) => `${o * 7},1,${i},0`).join(',')
  return b.text().replace('"locations":[]', `"locations":[${locations}]`)
}

/** The report's file: one 1 MB WeakMap-style edge name shared by 4,000 internal edges. */
function longNames() {
  const b = new crafted.Builder()
  const empty = b.string('')
  const weak = b.string(`1 / part of key (${'k'.repeat(1 << 20)} @1) -> value (V @2) pair in WeakMap (table @3)`)
  const tag = b.string('T')
  const root = b.node('synthetic', empty, 0)
  const hub = b.node('object', b.string('Hub'), 16)
  const targets = Array.from({ length: 4000 }, () => b.node('object', tag, 16))
  b.edge(root, 'element', 1, hub)
  for (const t of targets) b.edge(hub, 'internal', weak, t)
  return b.text()
}

test('a huge header member analyses, or fails with a code, under a memory limit — never aborts the process', async () => {
  // 34 MB of numbers in the header: materialised as 32-byte values they needed a 1 GiB
  // allocation, which aborted the host (exit 134) under this limit.
  const junk = `[${'0,'.repeat(17 << 20)}0]`
  const tiny = JSON.stringify(JSON.parse(corrupt.tiny()))
  const cases = [
    ['unknown-member', tiny.replace('"snapshot":{', `"snapshot":{"junk":${junk},`), { ok: true }],
    ['in-meta', tiny.replace('"meta":{', `"meta":{"junk":${junk},`), { ok: false, code: 'ERR_LEAKWATCH_SNAPSHOT_TOO_LARGE' }],
    ['long-string', tiny.replace('"meta":{', `"meta":{"junk":"${'x'.repeat(34 << 20)}",`), { ok: false, code: 'ERR_LEAKWATCH_SNAPSHOT_TOO_LARGE' }],
  ]
  // The limit leaves about 870 MB of address space beyond what this Node reserves at start
  // (0.73 GB for Node 20, 1.28 GB for Node 24 and 26): a 1 GiB allocation cannot fit.
  const { execFileSync } = require('node:child_process')
  const baseKb = Number(execFileSync(process.execPath, ['-e',
    "process.stdout.write(require('fs').readFileSync('/proc/self/status','utf8').match(/VmSize:\\s+(\\d+)/)[1])"]))
  const limitKb = baseKb + 870_000
  for (const [name, text, expected] of cases) {
    const file = path.join(dir, `header-${name}.heapsnapshot`)
    fs.writeFileSync(file, text)
    const script = path.join(__dirname, 'fixtures/scripts/analysis-header-bomb.js')
    const res = await runCommand('sh', ['-c', `ulimit -v ${limitKb} && exec "$0" "$1" "$2"`, process.execPath, script, file], { timeoutMs: 120_000 })
    fs.rmSync(file)
    assert.strictEqual(res.code, 0, `${name}: exit ${res.code} ${res.signal} ${res.stderr.slice(-500)}`)
    const r = jsonLines(res)[0]
    assert.strictEqual(r.ok, expected.ok, `${name}: ${JSON.stringify(r)}`)
    if (!expected.ok) assert.strictEqual(r.code, expected.code, `${name}: ${JSON.stringify(r)}`)
  }
})

test('analyze text output escapes control and bidi characters in names from the snapshot', async () => {
  const file = path.join(dir, 'hostile-names.heapsnapshot')
  fs.writeFileSync(file, crafted.hostileNames().text())
  const res = await runCommand(process.execPath, [path.join(root, 'bin/leakwatch.js'), 'analyze', file])
  assert.strictEqual(res.code, 0, res.stderr)
  assert.ok(res.stdout.includes('Evil\\x1b]0;pwned\\x07\\x1b[2J\\u202eClass\\x9b31m'), res.stdout)
  // eslint-style check: no C0 (but newline), C1 or bidi control reaches the terminal.
  assert.doesNotMatch(res.stdout, /[\u0000-\u0009\u000b-\u001f\u007f-\u009f\u061c\u200e\u200f\u2028-\u202e\u2066-\u2069]/)
  // JSON keeps the names exact.
  const json = await runCommand(process.execPath, [path.join(root, 'bin/leakwatch.js'), 'analyze', '--json', file])
  assert.strictEqual(json.code, 0, json.stderr)
  assert.ok(JSON.parse(json.stdout).classes.some((c) => c.name === 'Evil\u001b]0;pwned\u0007\u001b[2J\u202eClass\u009b31m'))
})

test('analyze and diff run in a worker thread', async () => {
  const res = await runFixture('analysis-worker.js', { args: shapes.slice(0, 2) })
  assert.strictEqual(res.code, 0, res.stderr)
  assert.ok(jsonLines(res)[0].rows > 0)
})

test('the ES module entry exports analyze, diff and HeapDiff', async () => {
  const mod = await import(path.join(root, 'index.mjs'))
  assert.strictEqual(typeof mod.analyze, 'function')
  assert.strictEqual(typeof mod.diff, 'function')
  assert.strictEqual(typeof mod.HeapDiff, 'function')
})
