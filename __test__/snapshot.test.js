'use strict'

// Heap snapshots in child processes: triggers, guard, files, workers. Failures (a full disk,
// a directory it may not write, …) are in faults.test.js.

const test = require('node:test')
const assert = require('node:assert/strict')
const fs = require('node:fs')
const os = require('node:os')
const path = require('node:path')
const { runFixture, jsonLines } = require('./helpers')

function tempDir(tag) {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), `lw-snap-${tag}-`))
  fs.chmodSync(dir, 0o755)
  return dir
}

/** Names in `dir`, sorted. */
const listing = (dir) => fs.readdirSync(dir).sort()

/** A complete snapshot: parses as JSON and has the meta V8 writes first. */
function assertValidSnapshot(file) {
  const parsed = JSON.parse(fs.readFileSync(file, 'utf8'))
  assert.ok(parsed.snapshot && parsed.snapshot.meta && Array.isArray(parsed.snapshot.meta.node_fields),
    `${file} has snapshot.meta`)
  assert.ok(parsed.nodes.length > 0 && parsed.strings.length > 0)
  return parsed
}

const NAME = /^leakwatch-\d{8}-\d{6}\.\d{3}-\d+-\d+-\d+-[a-z-]+\.heapsnapshot$/

test('a leak with onLeak writes one valid snapshot; a second leak within the cooldown is skipped; maxFiles prunes', async () => {
  const dir = tempDir('leak')
  // Older leakwatch dumps of other processes, and a file that is not ours.
  const old = [
    'leakwatch-20200101-000000.000-1-0-0-leak.heapsnapshot',
    'leakwatch-20200102-000000.000-1-0-1-leak.heapsnapshot',
  ]
  for (const name of old) fs.writeFileSync(path.join(dir, name), '{}')
  fs.writeFileSync(path.join(dir, 'notes.heapsnapshot'), '{}')
  const r = await runFixture('snapshot-on-leak.js', { args: [dir] })
  assert.equal(r.code, 0, r.stderr)
  const [events] = jsonLines(r)
  const leaks = events.filter((e) => e.event === 'leak')
  const written = events.filter((e) => e.event === 'snapshot')
  const skipped = events.filter((e) => e.event === 'snapshot-skipped')
  assert.ok(leaks.length >= 2, JSON.stringify(events))
  assert.equal(written.length, 1, JSON.stringify(events))
  assert.equal(written[0].reason, 'leak')
  assert.deepEqual(skipped.map((s) => [s.reason, s.trigger]), [['cooldown', 'leak']])
  const files = listing(dir)
  // maxFiles 2: the new dump and the newest old one remain; other files are untouched.
  const ours = files.filter((f) => NAME.test(f))
  assert.deepEqual(ours, [old[1], path.basename(written[0].path)], files.join(', '))
  assert.ok(files.includes('notes.heapsnapshot'))
  assert.ok(!files.some((f) => f.endsWith('.partial')))
  const stat = fs.statSync(written[0].path)
  assert.equal(stat.mode & 0o777, 0o600)
  assert.match(path.basename(written[0].path), /-\d+-0-\d+-leak\.heapsnapshot$/)
  assertValidSnapshot(written[0].path)
  fs.rmSync(dir, { recursive: true })
})

test('writeSnapshot: a file or a directory; maxFiles counts the dumps of the directory', async () => {
  const dir = tempDir('api')
  const r = await runFixture('snapshot-write-api.js', { args: [dir] })
  assert.equal(r.code, 0, r.stderr)
  const [out] = jsonLines(r)
  for (const info of out.infos) {
    assert.equal(info.reason, 'api')
    assert.ok(info.bytes > 1000 && info.durationMs > 0, JSON.stringify(info))
    assert.ok(info.estimate.memoryBytes > 0 && info.estimate.fileBytes >= info.bytes / 4)
  }
  assert.deepEqual(out.seen, ['api', 'api', 'api', 'api'])
  assert.equal(out.exact.path, path.join(dir, 'exact.heapsnapshot'))
  const files = listing(dir)
  assert.deepEqual(files, [...out.infos.slice(1).map((i) => path.basename(i.path)), 'exact.heapsnapshot'].sort())
  assertValidSnapshot(out.exact.path)
  fs.rmSync(dir, { recursive: true })
})

test('nearHeapLimit: a process that leaks until it dies leaves one complete snapshot', async () => {
  const dir = tempDir('oom')
  const r = await runFixture('snapshot-near-heap-limit.js', { args: [dir], nodeArgs: ['--max-old-space-size=64'], timeoutMs: 120_000 })
  assert.notEqual(r.code, 0, 'the process runs out of memory')
  assert.match(r.stderr, /leakwatch: the JS heap is near its limit \(\d+ MB\); wrote heap snapshot .*near-heap-limit\.heapsnapshot/)
  const files = listing(dir)
  assert.equal(files.length, 1, files.join(', '))
  assert.match(files[0], NAME)
  assert.match(files[0], /-near-heap-limit\.heapsnapshot$/)
  const parsed = assertValidSnapshot(path.join(dir, files[0]))
  assert.ok(parsed.snapshot.node_count > 100_000, `node_count ${parsed.snapshot.node_count}`)
  fs.rmSync(dir, { recursive: true })
})

test('a memory budget too small: snapshot-skipped with need and have, and no file', async () => {
  const dir = tempDir('budget')
  const r = await runFixture('snapshot-memory-budget.js', { args: [dir] })
  assert.equal(r.code, 0, r.stderr)
  const [out] = jsonLines(r)
  assert.equal(out.written, undefined)
  assert.equal(out.skipped.length, 2, JSON.stringify(out))
  for (const [s, trigger] of [[out.skipped[0], 'signal'], [out.skipped[1], 'api']]) {
    assert.equal(s.reason, 'memory')
    assert.equal(s.trigger, trigger)
    assert.equal(s.bound, 'memoryLimitBytes')
    assert.ok(s.needBytes > s.haveBytes && s.haveBytes <= 20 * 1024 * 1024, JSON.stringify(s))
    assert.match(s.message, /needs \d+ MB of memory/)
  }
  assert.equal(out.rejected.code, 'ERR_LEAKWATCH_SNAPSHOT_SKIPPED')
  assert.equal(out.rejected.reason, 'memory')
  assert.deepEqual(listing(dir), [])
  fs.rmSync(dir, { recursive: true })
})

test('a dump bigger than estimated is abandoned at the RSS ceiling, leaving no file', async () => {
  const dir = tempDir('ceiling')
  // The first dump, of large number arrays (few objects per byte), teaches the guard a low
  // ratio. The heap then fills with small objects (many per byte): the learned estimate fits
  // a budget the real dump does not, and the ceiling stops it.
  const r = await runFixture('snapshot-rss-ceiling.js', { args: [dir] })
  assert.equal(r.code, 0, r.stderr)
  const [out] = jsonLines(r)
  assert.equal(out.second, undefined, JSON.stringify(out))
  assert.equal(out.code, 'ERR_LEAKWATCH_SNAPSHOT_SKIPPED')
  assert.equal(out.skipped.reason, 'memory')
  assert.equal(out.skipped.aborted, true)
  assert.equal(out.skipped.bound, 'ceiling')
  assert.match(out.skipped.message, /abandoned as RSS approached the limit/)
  assert.deepEqual(out.files, [path.basename(out.first.path)])
  fs.rmSync(dir, { recursive: true })
})

test('a dump in a worker captures the worker; the signal trigger dumps the main thread', async () => {
  const dir = tempDir('worker')
  const r = await runFixture('snapshot-worker-and-signal.js', { args: [dir] })
  assert.equal(r.code, 0, r.stderr)
  const [out] = jsonLines(r)
  assert.equal(out.main.reason, 'signal')
  assert.match(path.basename(out.main.path), /-\d+-0-\d+-signal\.heapsnapshot$/)
  assert.match(path.basename(out.worker.path), new RegExp(`-\\d+-${out.workerThreadId}-\\d+-api\\.heapsnapshot$`))
  const mainStrings = new Set(assertValidSnapshot(out.main.path).strings)
  const workerStrings = new Set(assertValidSnapshot(out.worker.path).strings)
  assert.ok(mainStrings.has('MainThreadOnlyThing') && !mainStrings.has('WorkerOnlyThing'))
  assert.ok(workerStrings.has('WorkerOnlyThing') && !workerStrings.has('MainThreadOnlyThing'))
  fs.rmSync(dir, { recursive: true })
})

test('rssBytes is checked on the sampler\'s RSS: native growth with no stats event still dumps', async () => {
  const dir = tempDir('rss-native')
  const r = await runFixture('snapshot-rss-native.js', { args: [dir] })
  assert.equal(r.code, 0, r.stderr)
  const [out] = jsonLines(r)
  assert.deepEqual(out.events, ['stats', 'snapshot:rss'], 'one stats event (before the growth), then the dump')
  assert.equal(fs.readdirSync(dir).filter((f) => f.endsWith('-rss.heapsnapshot')).length, 1)
  fs.rmSync(dir, { recursive: true })
})
