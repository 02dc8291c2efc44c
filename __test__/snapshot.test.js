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

test('a memory budget too small: snapshot-skipped with need and have, heap statistics instead of a snapshot', async () => {
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
  // No snapshot: each refusal left its heap statistics instead (no profile: attribution idle).
  const files = listing(dir)
  assert.equal(files.length, 2, files.join(', '))
  for (const [s, trigger] of [[out.skipped[0], 'signal'], [out.skipped[1], 'api']]) {
    assert.equal(s.evidence.profile, undefined)
    assert.match(path.basename(s.evidence.statistics), new RegExp(`^leakwatch-.*-${trigger}\\.heapstats\\.json$`))
    assert.ok(files.includes(path.basename(s.evidence.statistics)), files.join(', '))
  }
  fs.rmSync(dir, { recursive: true })
})

test('a dump bigger than estimated is abandoned at the RSS ceiling, leaving no snapshot', async () => {
  const dir = tempDir('ceiling')
  // A plain object used as a dictionary: its index names are what the census cannot count,
  // so the estimate fits a budget the real dump does not, and the ceiling stops it.
  const r = await runFixture('snapshot-rss-ceiling.js', { args: [dir] })
  assert.equal(r.code, 0, r.stderr)
  const [out] = jsonLines(r)
  assert.equal(out.second, undefined, JSON.stringify(out))
  assert.equal(out.code, 'ERR_LEAKWATCH_SNAPSHOT_SKIPPED')
  assert.equal(out.skipped.reason, 'memory')
  assert.equal(out.skipped.aborted, true)
  assert.equal(out.skipped.bound, 'ceiling')
  assert.match(out.skipped.message, /abandoned as RSS approached the limit/)
  // No snapshot and nothing partial: the heap statistics written instead.
  assert.deepEqual(out.files, [path.basename(out.skipped.evidence.statistics)])
  assert.match(out.files[0], /-api\.heapstats\.json$/)
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

// Decided like a container: the need is measured by one unconstrained dump of the same heap
// (a fresh process), then the limit is set at RSS + 2× and RSS + ½× that need. The first
// dump — no learned ratio — must be taken with room to spare and refused (or aborted) when
// it would not fit, with no file left and the attempt's peak RSS below the limit.
test('the guard decides like a container: taken at 2x the measured need, refused at half', async () => {
  const measureDir = tempDir('container-need')
  const m = await runFixture('snapshot-container.js', { args: ['measure', measureDir], timeoutMs: 120_000 })
  assert.equal(m.code, 0, m.stderr)
  const [measured] = jsonLines(m)
  assert.ok(measured.need > 50 * 1024 * 1024, JSON.stringify(measured))
  // The estimate of the first dump is never below what it took.
  assert.ok(measured.written.estimate.memoryBytes >= measured.need, JSON.stringify(measured))
  fs.rmSync(measureDir, { recursive: true })
  const legs = ['api', 'leak'].flatMap((trigger) => [2, 0.5].map((factor) => ({ trigger, factor })))
  const runs = await Promise.all(legs.map(async ({ trigger, factor }) => {
    const dir = tempDir(`container-${trigger}-${factor}`)
    const r = await runFixture('snapshot-container.js', { args: [trigger, dir, String(measured.need), String(factor)], timeoutMs: 180_000 })
    fs.rmSync(dir, { recursive: true })
    return { trigger, factor, r }
  }))
  for (const { trigger, factor, r } of runs) {
    assert.equal(r.code, 0, r.stderr)
    const [out] = jsonLines(r)
    const what = `${trigger} at ${factor}x: ${JSON.stringify(out)}`
    assert.ok(out.peak < out.limit, `peak RSS passed the limit, ${what}`)
    const taken = out.files.filter((f) => f.endsWith('.heapsnapshot'))
    assert.deepEqual(out.files.filter((f) => f.endsWith('.partial')), [], what)
    if (factor === 2) {
      assert.equal(taken.length, 1, what)
    } else {
      assert.deepEqual(taken, [], what)
      assert.ok(out.events.some((e) => e.event === 'snapshot-skipped' && e.reason === 'memory'), what)
    }
    if (trigger === 'leak') assert.ok(out.events.some((e) => e.event === 'leak'), what)
  }
})

test('the near-heap-limit dump decides like a container: taken at 2x the measured need, refused at half', async () => {
  const run = async (limit) => {
    const dir = tempDir('near-limit-container')
    const r = await runFixture('snapshot-near-limit-container.js', {
      args: [dir, limit], nodeArgs: ['--max-old-space-size=96'], timeoutMs: 180_000,
    })
    fs.rmSync(dir, { recursive: true })
    assert.equal(r.code, 0, r.stderr)
    const [out] = jsonLines(r)
    return out
  }
  const measured = await run('none')
  assert.equal(measured.event, 'snapshot', JSON.stringify(measured))
  const need = measured.peakRss - measured.lastRss
  assert.ok(measured.estimate.memoryBytes >= need, JSON.stringify(measured))
  const [roomy, tight] = await Promise.all([2, 0.5].map((f) => run(String(Math.round(measured.lastRss + f * need)))))
  assert.equal(roomy.event, 'snapshot', JSON.stringify(roomy))
  assert.equal(roomy.files.length, 1, JSON.stringify(roomy))
  assert.ok(roomy.peak < roomy.limit, JSON.stringify(roomy))
  assert.equal(tight.event, 'snapshot-skipped', JSON.stringify(tight))
  assert.equal(tight.reason, 'memory', JSON.stringify(tight))
  // No snapshot; the heap statistics the hook wrote natively instead (no JavaScript runs there).
  assert.equal(tight.files.length, 1, JSON.stringify(tight))
  assert.match(tight.files[0], /^leakwatch-.*-near-heap-limit\.heapstats\.json$/)
  assert.equal(path.basename(tight.evidence.statistics), tight.files[0])
  assert.deepEqual(tight.statistics.heap && Object.keys(tight.statistics.heap).sort(),
    ['external_memory', 'heap_size_limit', 'malloced_memory', 'total_heap_size', 'total_physical_size', 'used_heap_size'])
  assert.equal(tight.statistics.source, 'native')
  // V8's spaces by the names v8.getHeapSpaceStatistics() uses; the leak fills old space.
  const old = tight.statistics.spaces.find((s) => s.space_name === 'old_space')
  assert.ok(old && old.space_used_size > 32 * 1024 * 1024, JSON.stringify(tight.statistics.spaces))
  assert.ok(tight.peak < tight.limit, JSON.stringify(tight))
})
