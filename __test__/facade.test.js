'use strict'

// The JavaScript facade on a fake binding: no child process, no native addon. What the
// facade itself decides — option validation, snapshot triggers and cooldowns, how a dump's
// outcome becomes events and promises, metric values, payload decoration — is checked here
// directly; what depends on the process's lifetime runs in child processes elsewhere.

const test = require('node:test')
const { describe } = test
const assert = require('node:assert/strict')
const fs = require('node:fs')
const os = require('node:os')
const path = require('node:path')
const client = require('prom-client')
const { createLeakwatch, BINDING_API_VERSION } = require('../lib/leakwatch')
const { fakeBinding, rawStats, GC_KINDS } = require('./fakes/native-binding')

const MiB = 1024 * 1024
const tick = () => new Promise((resolve) => setImmediate(resolve))
const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'leakwatch-facade-'))

// A refused dump leaves heap statistics in `dir` (the fake binding's outcomes are refusals of
// real calls): the payload without them, after checking they were written.
function withoutEvidence(payload) {
  const { evidence, ...rest } = payload
  assert.ok(evidence && fs.existsSync(evidence.statistics), JSON.stringify(payload))
  return { ...rest, message: payload.message.replace(/; left \S+ instead$/, '') }
}
const startsWith = (text) => new RegExp(`^${text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}`)
test.after(() => fs.rmSync(dir, { recursive: true, force: true }))

/** A facade on a fake binding, with every event it emits recorded. */
function facade(options) {
  const fake = fakeBinding(options)
  const lw = createLeakwatch(fake.binding)
  const events = []
  // Listening for 'stats' or 'leak' starts a watcher with the defaults (memwatch's model)
  // unless one runs: this one, without the inspector session of attribution.
  lw.start({ attribution: false })
  for (const name of ['stats', 'leak', 'leak-stopped', 'snapshot', 'snapshot-skipped', 'error']) {
    lw.on(name, (payload) => events.push([name, payload]))
  }
  lw.stop()
  return { lw, events, ...fake }
}

const written = (extra) => ({
  status: 'written', path: path.join(dir, 'x.heapsnapshot'), bytes: 5 * MiB, durationMs: 40,
  peakRss: 90 * MiB, estimatedMemoryBytes: 30 * MiB, estimatedFileBytes: 6 * MiB, estimatedPauseMs: 55, ...extra,
})

test('the binding API version is checked when the facade is built', () => {
  for (const version of [0, BINDING_API_VERSION - 1, BINDING_API_VERSION + 1, String(BINDING_API_VERSION), undefined]) {
    const { binding } = fakeBinding()
    binding.BINDING_API_VERSION = version
    assert.throws(() => createLeakwatch(binding), (err) => {
      assert.equal(err.code, 'ERR_LEAKWATCH_BINDING_MISMATCH')
      assert.match(err.message, new RegExp(`version ${version}, this JavaScript expects ${BINDING_API_VERSION}.*rebuild`))
      return true
    })
  }
  assert.equal(typeof createLeakwatch(fakeBinding().binding).start, 'function')
})

test('bad options throw TypeError / RangeError with ERR_LEAKWATCH_* codes before anything starts', () => {
  const { lw, calls } = facade()
  const cases = [
    [{ sampleIntervalMs: '1000' }, TypeError, 'ERR_LEAKWATCH_INVALID_OPTION', /"sampleIntervalMs" must be an integer between 10 and 3600000; received the string "1000"/],
    [{ sampleIntervalMs: 5 }, RangeError, 'ERR_LEAKWATCH_OPTION_OUT_OF_RANGE', /received the number 5/],
    [{ detection: { heap: { minGrowthRatio: -1 } } }, RangeError, 'ERR_LEAKWATCH_OPTION_OUT_OF_RANGE', /"detection\.heap\.minGrowthRatio"/],
    [{ detection: { windw: 1 } }, TypeError, 'ERR_LEAKWATCH_UNKNOWN_OPTION', /unknown option "detection\.windw"; known options are mode, /],
    [{ snapshot: { signal: 'SIGINT' } }, RangeError, 'ERR_LEAKWATCH_OPTION_OUT_OF_RANGE', /not used for process control/],
    [{ gcSource: 'v8' }, RangeError, 'ERR_LEAKWATCH_OPTION_OUT_OF_RANGE', /"auto" or "perf_hooks"/],
    [{ attribution: true }, TypeError, 'ERR_LEAKWATCH_INVALID_OPTION', /an object or false; received a value of type boolean/],
    [[], TypeError, 'ERR_LEAKWATCH_INVALID_OPTION', /"options" must be an object; received an array/],
  ]
  for (const [options, ErrorClass, code, message] of cases) {
    assert.throws(() => lw.start(options), (err) => {
      assert.ok(err instanceof ErrorClass, `${JSON.stringify(options)}: ${err.constructor.name}`)
      assert.equal(err.code, code)
      assert.match(err.message, message)
      return true
    })
  }
  assert.equal(calls.monitors.length, 1, 'only the watcher started by the listeners')
})

test('the native monitor gets the resolved options; metrics turned off are absent', () => {
  const { lw, calls } = facade()
  lw.start({ attribution: false, detection: { rss: false, confirm: false, windowMs: 60_000 } })
  const { options } = calls.monitors.at(-1)
  assert.equal(options.useV8Hooks, true)
  assert.equal(options.sampleIntervalMs, 1000)
  assert.equal(options.detection.windowMs, 60_000)
  assert.deepEqual(options.detection.heap, { minGrowthBytes: 8 * MiB, minGrowthRatio: 0.1 })
  assert.equal(options.detection.rss, undefined)
  assert.equal(options.detection.confirmMaxPauseRatio, undefined)
  assert.equal(options.detection.confirmMinIntervalMs, 0)
  assert.equal(typeof options.referenceHeap.used_heap_size, 'number')
  lw.stop()
})

test('a native constructor error keeps its code; an error without one gets ERR_LEAKWATCH_NATIVE', () => {
  const coded = Object.assign(new Error('cannot start the leakwatch thread'), { code: 'ERR_LEAKWATCH_THREAD_SPAWN' })
  const lw = createLeakwatch(fakeBinding({ monitorError: coded }).binding)
  assert.throws(() => lw.start({ attribution: false }), { code: 'ERR_LEAKWATCH_THREAD_SPAWN', message: 'cannot start the leakwatch thread' })
  const other = createLeakwatch(fakeBinding({ monitorError: new Error('boom') }).binding)
  assert.throws(() => other.start({ attribution: false }), { code: 'ERR_LEAKWATCH_NATIVE' })
})

test('payloads are decorated and emitted on the watcher and the module; nothing after stop()', () => {
  const { lw, events, calls } = facade()
  const w = lw.start({ attribution: false })
  const monitor = calls.monitors.at(-1)
  const onWatcher = []
  w.on('stats', (s) => onWatcher.push(s))
  monitor.send('stats', rawStats({ rss: undefined }))
  monitor.send('leak', { metric: 'heap', start: Date.UTC(2026, 0, 1), end: Date.UTC(2026, 0, 2), growth: 1 })
  const [[, stats], [, leak]] = events
  assert.deepEqual(events.map(([name]) => name), ['stats', 'leak'])
  assert.equal(onWatcher[0], stats, 'the same object on the watcher and the module')
  assert.ok(stats.time instanceof Date)
  assert.deepEqual(stats.trend, { heap: { bytesPerHour: 7200, baseline: 1, current: 2 }, external: null, rss: null })
  assert.equal(typeof stats.rss, 'number', 'RSS read in JS where the native side has none')
  assert.equal(typeof stats.heap.arrayBuffers, 'number')
  assert.deepEqual([leak.start, leak.end], [new Date(Date.UTC(2026, 0, 1)), new Date(Date.UTC(2026, 0, 2))])
  assert.deepEqual(leak.attribution, { status: 'off' })
  assert.equal(w.stats().heap.used, 20_000_000)
  w.stop()
  monitor.send('stats', rawStats())
  assert.equal(events.length, 2)
  assert.equal(lw.current(), null)
})

test('a V8 hook failure becomes an asynchronous error event', async () => {
  const { binding } = fakeBinding({ hookFailure: { code: 'ERR_LEAKWATCH_V8_SYMBOLS', message: 'symbol missing' } })
  const lw = createLeakwatch(binding)
  const w = lw.start({ attribution: false })
  const errors = []
  w.on('error', (err) => errors.push(err))
  await tick()
  assert.equal(errors.length, 1)
  assert.equal(errors[0].code, 'ERR_LEAKWATCH_V8_SYMBOLS')
  assert.equal(errors[0].message, 'leakwatch: symbol missing')
  w.stop()
})

test('automatic snapshot triggers share cooldownMs; one skip event per trigger and period', async (t) => {
  // The clock the cooldown reads, moved by hand (mock.timers is experimental on Node 20).
  let now = 1_000_000
  t.mock.method(Date, 'now', () => now)
  const advance = (ms) => { now += ms }
  const { lw, events, calls, outcomes } = facade()
  lw.start({ attribution: false, snapshot: { dir, cooldownMs: 60_000, heapUsedPercent: 50, rssBytes: 1 } })
  const monitor = calls.monitors.at(-1)
  const hot = rawStats({ heap: { ...rawStats().heap, used: 60_000_000 } })
  const skips = () => events.filter(([name]) => name === 'snapshot-skipped').map(([, p]) => p)

  outcomes.push(written())
  monitor.send('leak', { metric: 'heap', start: 0, end: 0 })
  monitor.send('stats', hot) // the same turn: one dump is pending, a second is not queued
  await tick()
  assert.deepEqual(calls.snapshots.map((r) => r.trigger), ['leak'])
  assert.equal(calls.snapshots[0].minFreeDiskBytes, 1024 * 1024 * 1024, 'the guard gets the default disk margin')

  advance(10_000)
  monitor.send('stats', hot)
  monitor.send('stats', hot)
  monitor.send('leak', { metric: 'heap', start: 0, end: 0 })
  await tick()
  assert.equal(calls.snapshots.length, 1, 'no dump within the cooldown')
  assert.deepEqual(skips().map((s) => [s.trigger, s.reason, s.retryInMs]),
    [['heap-used', 'cooldown', 50_000], ['leak', 'cooldown', 50_000]])
  assert.equal(skips()[0].message, 'leakwatch: heap snapshot (heap-used) skipped: cooldown')

  // heapUsedPercent is checked before rssBytes: below it, rssBytes triggers.
  advance(50_000)
  outcomes.push(written())
  monitor.send('stats', rawStats())
  await tick()
  assert.deepEqual(calls.snapshots.map((r) => r.trigger), ['leak', 'rss'])

  // A failed automatic attempt starts the cooldown as well.
  advance(60_000)
  outcomes.push({ status: 'failed', code: 'ERR_LEAKWATCH_SNAPSHOT_WRITE', message: 'no space' })
  monitor.send('stats', hot)
  await tick()
  monitor.send('stats', hot)
  await tick()
  assert.equal(calls.snapshots.length, 3)
  assert.deepEqual(skips().map((s) => s.trigger), ['heap-used', 'leak', 'heap-used'])
  lw.stop()
})

test('outcomes: written → snapshot event and info, pruned to maxFiles', async () => {
  const { lw, events, calls, outcomes } = facade()
  const w = lw.start({ attribution: false, snapshot: { dir, maxFiles: 3, onLeak: false } })
  outcomes.push(written({ trigger: 'api' }))
  const info = await lw.writeSnapshot()
  assert.deepEqual(info, {
    path: path.join(dir, 'x.heapsnapshot'), reason: 'api', bytes: 5 * MiB, durationMs: 40, peakRss: 90 * MiB,
    estimate: { memoryBytes: 30 * MiB, fileBytes: 6 * MiB, pauseMs: 55 },
  })
  assert.deepEqual(events, [['snapshot', info]])
  assert.deepEqual(calls.pruned, [[dir, 3, info.path]], 'the dump just written is never pruned')
  assert.equal(calls.snapshots[0].dir, dir)
  assert.equal(calls.snapshots[0].minFreeDiskBytes, 1024 * MiB)
  assert.equal(calls.snapshots[0].maxPauseMs, 30_000, 'the default pause budget reaches the binding')

  // An explicit file path: written exactly there, nothing pruned.
  outcomes.push((request) => written({ trigger: request.trigger, path: request.path }))
  const file = path.join(dir, 'mine.heapsnapshot')
  assert.equal((await lw.writeSnapshot(file)).path, file)
  assert.equal(calls.pruned.length, 1)
  w.stop()
})

test('outcomes: skipped → snapshot-skipped event and a rejection with ERR_LEAKWATCH_SNAPSHOT_SKIPPED', async () => {
  const { lw, events, outcomes } = facade()
  lw.start({ attribution: false, snapshot: { dir } })
  outcomes.push({ status: 'skipped', reason: 'memory', needBytes: 512 * MiB, haveBytes: 100 * MiB, bound: 'cgroup' })
  const message = 'leakwatch: heap snapshot (api) skipped: needs 512 MB of memory, cgroup leaves 100 MB'
  await assert.rejects(lw.writeSnapshot(), (err) => {
    assert.equal(err.code, 'ERR_LEAKWATCH_SNAPSHOT_SKIPPED')
    assert.equal(withoutEvidence(err).message, message)
    assert.deepEqual([err.reason, err.trigger, err.needBytes, err.haveBytes, err.bound],
      ['memory', 'api', 512 * MiB, 100 * MiB, 'cgroup'])
    return true
  })
  assert.deepEqual(events.map(([name, p]) => [name, withoutEvidence(p)]), [['snapshot-skipped', {
    reason: 'memory', trigger: 'api', needBytes: 512 * MiB, haveBytes: 100 * MiB, bound: 'cgroup', message,
  }]])

  outcomes.push({ status: 'skipped', reason: 'disk', needBytes: 2048 * MiB, haveBytes: 0, bound: 'disk', aborted: true })
  await assert.rejects(lw.writeSnapshot(), {
    message: startsWith('leakwatch: heap snapshot (api) abandoned before writing (the file\'s size redone from the graph\'s ' +
      'counts): needs 2048 MB of free disk (the file and minFreeDiskBytes), disk leaves 0 MB'),
  })
  outcomes.push({ status: 'skipped', reason: 'memory', needBytes: 900 * MiB, haveBytes: 600 * MiB, bound: 'memoryLimitBytes', aborted: true })
  await assert.rejects(lw.writeSnapshot(), {
    message: startsWith('leakwatch: heap snapshot (api) abandoned before the graph was built (the estimate redone with the ' +
      'heap\'s object count): needs 900 MB of memory, memoryLimitBytes leaves 600 MB'),
  })
  outcomes.push({ status: 'skipped', reason: 'memory', needBytes: 700 * MiB, haveBytes: 600 * MiB, bound: 'ceiling', aborted: true })
  await assert.rejects(lw.writeSnapshot(), {
    message: startsWith('leakwatch: heap snapshot (api) abandoned as RSS approached the limit: needs 700 MB of memory, ' +
      'ceiling leaves 600 MB'),
  })
  lw.stop()
})

test('outcomes: over the pause budget → snapshot-skipped { reason: \'pause\', expectedMs, budgetMs }, and aborted', async () => {
  const { lw, events, calls, outcomes } = facade()
  lw.start({ attribution: false, snapshot: { dir, maxPauseMs: 2000 } })
  outcomes.push({ status: 'skipped', reason: 'pause', expectedMs: 4321.4, budgetMs: 2000, aborted: false })
  await assert.rejects(lw.writeSnapshot(), (err) => {
    assert.equal(err.code, 'ERR_LEAKWATCH_SNAPSHOT_SKIPPED')
    assert.deepEqual([err.reason, err.expectedMs, err.budgetMs, err.aborted], ['pause', 4321, 2000, undefined])
    return true
  })
  assert.equal(calls.snapshots.at(-1).maxPauseMs, 2000)
  assert.deepEqual([events.at(-1)[0], withoutEvidence(events.at(-1)[1])], ['snapshot-skipped', {
    reason: 'pause', trigger: 'api', expectedMs: 4321, budgetMs: 2000,
    message: 'leakwatch: heap snapshot (api) skipped: expected to block the isolate 4321 ms, over the pause budget of 2000 ms (maxPauseMs)',
  }])
  outcomes.push({ status: 'skipped', reason: 'pause', expectedMs: 900, budgetMs: 2000, aborted: true, durationMs: 2500.2 })
  await assert.rejects(lw.writeSnapshot(), (err) => {
    assert.deepEqual([err.reason, err.aborted, err.elapsedMs], ['pause', true, 2500])
    assert.match(err.message, /abandoned after 2500 ms: past the pause budget of 2000 ms .*no file was left/)
    return true
  })
  lw.stop()
  // `null`: no budget reaches the binding.
  lw.start({ attribution: false, snapshot: { dir, maxPauseMs: null } })
  outcomes.push(written({ trigger: 'api' }))
  await lw.writeSnapshot()
  assert.equal(calls.snapshots.at(-1).maxPauseMs, undefined)
  lw.stop()
})

test('outcomes: failed → error event for automatic triggers, rejection for writeSnapshot()', async () => {
  const { lw, events, calls, outcomes } = facade()
  lw.start({ attribution: false, snapshot: { dir } })
  outcomes.push({ status: 'failed', code: 'ERR_LEAKWATCH_SNAPSHOT_WRITE', message: 'write failed: ENOSPC', errno: 'ENOSPC', syscall: 'write' })
  calls.monitors.at(-1).send('leak', { metric: 'heap', start: 0, end: 0 })
  await tick()
  const [name, err] = events.at(-1)
  assert.equal(name, 'error')
  assert.deepEqual([err.code, err.message, err.errno, err.syscall, err.trigger],
    ['ERR_LEAKWATCH_SNAPSHOT_WRITE', 'leakwatch: write failed: ENOSPC', 'ENOSPC', 'write', 'leak'])

  const before = events.length
  outcomes.push(() => { throw new Error('unexpected') })
  await assert.rejects(lw.writeSnapshot(), { code: 'ERR_LEAKWATCH_SNAPSHOT_INTERNAL', message: 'leakwatch: unexpected' })
  assert.equal(events.length, before, 'a failed writeSnapshot() call rejects; no error event')
  lw.stop()
})

test('writeSnapshot() without a watcher uses the snapshot defaults; bad paths are refused', async () => {
  const { lw, calls, outcomes } = facade()
  outcomes.push(written({ trigger: 'api' }))
  await lw.writeSnapshot(dir)
  assert.equal(calls.snapshots[0].dir, dir)
  assert.equal(calls.snapshots[0].memoryLimitBytes, undefined)
  await assert.rejects(lw.writeSnapshot(''), { code: 'ERR_LEAKWATCH_INVALID_ARGUMENT' })
})

test('metrics: values read from the watcher\'s stats and the counters; GC totals carried over stop()', async () => {
  const { lw, calls, outcomes } = facade()
  const register = new client.Registry()
  const handle = lw.prometheus({ client, register })
  assert.equal(lw.prometheus({ client, register }), handle, 'one registration per registry')
  const read = async () => {
    const values = new Map()
    for (const metric of await register.getMetricsAsJSON()) {
      for (const v of metric.values) values.set(`${metric.name}${JSON.stringify(v.labels)}`, v.value)
    }
    return values
  }

  lw.start({ attribution: false, snapshot: { dir } })
  const monitor = calls.monitors.at(-1)
  monitor.send('stats', rawStats({ leak: { heap: true, external: false, rss: false } }))
  monitor.send('leak', { metric: 'heap', start: 0, end: 0 })
  outcomes.push(written())
  await tick()

  let v = await read()
  assert.equal(v.get('leakwatch_running{}'), 1)
  assert.equal(v.get('leakwatch_heap_used_bytes{}'), 20_000_000)
  assert.equal(v.get('leakwatch_heap_limit_bytes{}'), 100_000_000)
  assert.equal(v.get('leakwatch_heap_baseline_bytes{}'), 10_000_000)
  assert.equal(v.get('leakwatch_resident_memory_bytes{}'), 80_000_000)
  assert.equal(v.get('leakwatch_growth_rate_bytes_per_second{"metric":"heap"}'), 2)
  assert.equal(v.has('leakwatch_growth_rate_bytes_per_second{"metric":"rss"}'), false)
  assert.equal(v.get('leakwatch_leak_suspected{"metric":"heap"}'), 1)
  assert.equal(v.get('leakwatch_leaks_total{"metric":"heap"}'), 1)
  assert.equal(v.get('leakwatch_snapshots_written_total{"trigger":"leak"}'), 1)
  assert.equal(v.get('leakwatch_snapshots_written_total{"trigger":"near-heap-limit"}'), 0)
  assert.equal(v.get('leakwatch_snapshot_written_bytes_total{}'), 5 * MiB)
  assert.equal(v.get('leakwatch_gc_collections_total{"type":"markSweepCompact"}'), 3)
  assert.equal(v.get('leakwatch_gc_pause_seconds_total{"type":"processWeakCallbacks"}'), 0.05)
  assert.equal(v.get('leakwatch_confirmation_gcs_total{}'), 2)

  lw.stop()
  lw.start({ attribution: false })
  calls.monitors.at(-1).send('stats', rawStats())
  await tick()
  v = await read()
  assert.equal(v.get('leakwatch_running{}'), 1)
  for (const [i, kind] of GC_KINDS.entries()) {
    assert.equal(v.get(`leakwatch_gc_collections_total{"type":"${kind}"}`), 2 * (i + 1), kind)
  }
  assert.equal(v.get('leakwatch_confirmation_gcs_total{}'), 4)
  assert.equal(v.get('leakwatch_leaks_total{"metric":"heap"}'), 1, 'counters are not reset by a restart')

  lw.stop()
  await tick()
  v = await read()
  assert.equal(v.get('leakwatch_running{}'), 0)
  assert.equal(v.get('leakwatch_gc_collections_total{"type":"scavenge"}'), 2)
  handle.unregister()
  assert.deepEqual(await register.getMetricsAsJSON(), [])
})

test('analyze() and diff() map the binding\'s results and error codes', async () => {
  const { lw } = facade()
  assert.deepEqual(await lw.analyze('a.heapsnapshot'), { summary: { file: 'a.heapsnapshot' } })
  await assert.rejects(lw.analyze('bad.heapsnapshot'), {
    code: 'ERR_LEAKWATCH_SNAPSHOT_TRUNCATED', file: 'bad.heapsnapshot', offset: 12,
    message: 'leakwatch: bad.heapsnapshot: the file ends',
  })
  assert.deepEqual(await lw.diff('a', 'b', 'c'), { files: ['a', 'b', 'c'] })
  assert.deepEqual(await lw.diff('a', 'b', 'c', 'd', { groups: 1 }), { files: ['a', 'b', 'c', 'd'] })
  assert.deepEqual(await lw.diff(['a', 'b', 'c', 'd', 'e']), { files: ['a', 'b', 'c', 'd', 'e'] })
  assert.deepEqual(await lw.diff(new URL('file:///a'), Buffer.from('b')), { files: ['/a', 'b'] })
  await assert.rejects(lw.diff(['a']), { code: 'ERR_LEAKWATCH_INVALID_ARGUMENT', message: 'leakwatch: diff() takes 2 to 64 snapshot files; received 1' })
  await assert.rejects(lw.diff(['a', 'b'], { groups: -1 }), { code: 'ERR_LEAKWATCH_OPTION_OUT_OF_RANGE' })
  assert.deepEqual(await lw.redact('in', 'out'), { file: 'out', input: 'in' })
  await assert.rejects(lw.redact('in', ''), { code: 'ERR_LEAKWATCH_INVALID_ARGUMENT', message: /redact\(output\)/ })
  await assert.rejects(lw.redact('in', 'out', { groups: 1 }), { code: 'ERR_LEAKWATCH_UNKNOWN_OPTION' })
  await assert.rejects(lw.analyze('a', { top: 1 }), { code: 'ERR_LEAKWATCH_UNKNOWN_OPTION' })
  await assert.rejects(lw.analyze('a', { signal: AbortSignal.abort() }), { code: 'ERR_LEAKWATCH_ABORTED', name: 'AbortError' })
  // A job the addon reports as cancelled becomes the same AbortError.
  await assert.rejects(lw.analyze('cancelled.heapsnapshot'), { code: 'ERR_LEAKWATCH_ABORTED', name: 'AbortError' })
})

test('each facade has its own state: watchers and counters are per binding', () => {
  const a = facade()
  const b = facade()
  const w = a.lw.start({ attribution: false })
  assert.equal(a.lw.current(), w)
  assert.equal(b.lw.current(), null)
  assert.equal(b.calls.monitors.length, 1)
  w.stop()
})

test('sampling-start / sampling-stop drive the profiler and are never emitted', () => {
  const { lw, events, calls } = facade()
  const w = lw.start()
  const monitor = calls.monitors.at(-1)
  assert.equal(monitor.options.samplingOnGrowth, true)
  monitor.send('stats', rawStats())
  assert.equal(w.stats().attribution, 'idle')
  monitor.send('sampling-start', null)
  assert.equal(w.stats().attribution, 'sampling')
  monitor.send('leak', { metric: 'heap', start: Date.now() - 1000, end: Date.now(), growth: 1 })
  const [[, leak]] = events.filter(([name]) => name === 'leak')
  assert.equal(leak.attribution.status, 'ok')
  assert.ok(leak.attribution.since instanceof Date)
  monitor.send('sampling-stop', null)
  assert.equal(w.stats().attribution, 'idle')
  assert.deepEqual(events.map(([name]) => name), ['stats', 'leak'])
  assert.equal(events[0][1].attribution, 'idle')
  w.stop()
  assert.equal(w.stats().attribution, 'off')
  // 'always' and attribution: false ask the native side for no signal.
  lw.start({ attribution: { when: 'always' } }).stop()
  assert.equal(calls.monitors.at(-1).options.samplingOnGrowth, false)
  lw.start({ attribution: false }).stop()
  assert.equal(calls.monitors.at(-1).options.samplingOnGrowth, false)
})

describe('diagnose', () => {
  const { culpritOf, groupLine } = require('../lib/diagnosis')
  const step = (holder, edgeType, edge) => ({ holder, edgeType, edge })

  test('diagnose: true and {} are the defaults; bad values are refused with a code', () => {
    const { lw } = facade()
    const resolved = lw.start({ attribution: false, diagnose: true }).options.diagnose
    lw.stop()
    assert.deepEqual({ ...resolved }, { snapshots: 3, growthBytes: null, maxWaitMs: 1_800_000,
      analysisTimeoutMs: 600_000, cooldownMs: 3_600_000, maxReports: 3 })
    assert.throws(() => lw.start({ diagnose: { snapshots: 4 } }), { name: 'RangeError', code: 'ERR_LEAKWATCH_OPTION_OUT_OF_RANGE' })
    assert.throws(() => lw.start({ diagnose: 'yes' }), { name: 'TypeError', code: 'ERR_LEAKWATCH_INVALID_OPTION' })
    assert.throws(() => lw.start({ diagnose: { snapshot: 3 } }), { code: 'ERR_LEAKWATCH_UNKNOWN_OPTION' })
  })

  test('the container and its holder are read from the retainer path', () => {
    // A Map in a closure's scope.
    const map = { steps: [step('Server', 'property', '_events'), step('(anonymous)()', 'internal', 'context'),
      step('system / Context', 'context', 'contextsByRequest'), step('Map', 'internal', 'table'),
      step('(array)', 'internal', '12')], target: 'ReportContext', targetId: 1, truncated: false, unreachable: false }
    assert.deepEqual(culpritOf(map), { container: 'Map', reference: 'contextsByRequest', holder: '(anonymous)() (its scope)' })
    assert.equal(groupLine({ name: 'ReportContext', count: 600, retainedSize: 4_100_000, path: map }),
      'Server._events → (anonymous)() → contextsByRequest → Map → ReportContext ×600, +4.10 MB')
    // A dictionary keyed by URLs: the key is data, the name in the code is `responseCache`;
    // a plain object holding the container is named by what holds it.
    const cache = { steps: [step('system / Context', 'context', 'responseCache'),
      step('Object', 'property', '/api/orders/17?c=3')], target: '{body, etag}', targetId: 2, truncated: false, unreachable: false }
    assert.deepEqual(culpritOf(cache), { container: 'Object', reference: 'responseCache', holder: 'system / Context' })
    const listeners = { steps: [step('EventEmitter', 'property', '_events'), step('Object', 'property', 'config-changed'),
      step('Array', 'element', '7')], target: 'onConfigChanged()', targetId: 3, truncated: false, unreachable: false }
    assert.deepEqual(culpritOf(listeners), { container: 'Array', reference: 'config-changed', holder: 'EventEmitter._events' })
    assert.deepEqual(culpritOf({ steps: [], target: 'x', targetId: 4, truncated: false, unreachable: true }),
      { container: null, reference: null, holder: null })
  })

  test('a leak starts one diagnosis; a refused dump ends it with a leak-report that says why', async () => {
    const { lw, events, calls, outcomes } = facade()
    lw.on('leak-report', (r) => events.push(['leak-report', r]))
    lw.start({ attribution: false, snapshot: { dir, cooldownMs: 0 }, diagnose: { cooldownMs: 0 } })
    const monitor = calls.monitors.at(-1)
    outcomes.push({ status: 'skipped', reason: 'memory', needBytes: 900 * 1048576, haveBytes: 100 * 1048576, bound: 'cgroup' })
    monitor.send('leak', { metric: 'heap', start: 0, end: 0, growth: 1 })
    monitor.send('leak', { metric: 'rss', start: 0, end: 0, growth: 1 })
    const leaks = events.filter(([n]) => n === 'leak').map(([, p]) => p)
    assert.deepEqual(leaks.map((l) => l.diagnosis), ['started', 'running'])
    assert.notEqual(leaks[0].id, leaks[1].id)
    for (let i = 0; i < 20 && !events.some(([n]) => n === 'leak-report'); i++) await tick()
    lw.stop()
    assert.deepEqual(calls.snapshots.map((r) => r.trigger), ['leak'], 'one dump: the diagnosis\'s, not also onLeak\'s')
    const [, report] = events.find(([n]) => n === 'leak-report')
    assert.equal(report.leakId, leaks[0].id)
    assert.equal(report.status, 'skipped')
    assert.equal(report.reason, 'snapshot-skipped')
    assert.match(report.message, /diagnosis stopped: snapshot 1: heap snapshot \(leak\) skipped: needs 900 MB of memory, cgroup leaves 100 MB/)
    // No snapshot; what the refused dump left instead is beside where it would have been.
    assert.deepEqual(fs.readdirSync(report.files.dir), [path.basename(report.files.evidence.statistics)])
    assert.match(report.message, /left .*heapstats\.json instead/)
  })

  test('the analysis is not started when the memory room cannot hold it', async () => {
    const { lw, events, calls, outcomes, binding } = facade()
    lw.on('leak-report', (r) => events.push(['leak-report', r]))
    binding.room = { bytes: 200 * 1048576, bound: 'cgroup', rss: 1 }
    lw.start({ attribution: false, snapshot: { dir, cooldownMs: 0 }, diagnose: { snapshots: 2, maxWaitMs: 0 } })
    const monitor = calls.monitors.at(-1)
    for (const n of [1, 2]) outcomes.push((r) => ({ status: 'written', trigger: r.trigger, path: r.path, bytes: 40 * 1048576, durationMs: n }))
    monitor.send('leak', { metric: 'heap', start: 0, end: 0, growth: 1 })
    for (let i = 0; i < 50 && !events.some(([n]) => n === 'leak-report'); i++) await tick()
    lw.stop()
    const [, report] = events.find(([n]) => n === 'leak-report')
    assert.equal(calls.snapshots.length, 2)
    assert.equal(report.status, 'skipped')
    assert.equal(report.reason, 'analysis-memory')
    // 2 × 80 MiB of snapshots + 96 MiB = 256 MiB, over the 200 MiB the cgroup leaves.
    assert.match(report.message, /the analysis needs 256 MB of memory .* cgroup leaves 200 MB/)
    assert.equal(report.snapshots.length, 2)
    assert.equal(report.longestPauseMs, 2)
    assert.ok(report.notes[0].includes('maxWaitMs'))
  })

  test('a failed analysis process ends the diagnosis with its error code; stop() during one emits nothing', async () => {
    const run = async ({ stopEarly }) => {
      const { lw, events, calls, outcomes } = facade()
      lw.on('leak-report', (r) => events.push(['leak-report', r]))
      lw.start({ attribution: false, snapshot: { dir, cooldownMs: 0 }, diagnose: { snapshots: 2, maxWaitMs: 0, cooldownMs: 0 } })
      const monitor = calls.monitors.at(-1)
      // The fake "dumps" leave files that are not snapshots: the real analysis process rejects them.
      for (const n of [1, 2]) {
        outcomes.push((r) => {
          fs.writeFileSync(r.path, 'not a heap snapshot')
          return { status: 'written', trigger: r.trigger, path: r.path, bytes: 19, durationMs: n }
        })
      }
      monitor.send('leak', { metric: 'heap', start: 0, end: 0, growth: 1 })
      if (stopEarly) {
        while (calls.snapshots.length < 2) await tick()
        lw.stop()
        await new Promise((resolve) => setTimeout(resolve, 3000))
        return { events, report: null }
      }
      const deadline = Date.now() + 30_000
      while (!events.some(([n]) => n === 'leak-report') && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 50))
      lw.stop()
      return { events, report: events.find(([n]) => n === 'leak-report')?.[1] }
    }
    const { report } = await run({ stopEarly: false })
    assert.ok(report, 'a leak-report')
    assert.deepEqual([report.status, report.reason], ['failed', 'analysis-failed'])
    assert.match(report.message, /the analysis process failed: ERR_LEAKWATCH_SNAPSHOT_\w+/)
    assert.deepEqual(fs.readdirSync(report.files.dir).sort(), ['snapshot-1.heapsnapshot', 'snapshot-2.heapsnapshot'])
    const stopped = await run({ stopEarly: true })
    assert.deepEqual(stopped.events.filter(([n]) => n === 'leak-report'), [], 'nothing is emitted after stop()')
  })

  test('leak-stopped carries its leak\'s id; before a second dump it ends the diagnosis', async () => {
    const { lw, events, calls, outcomes } = facade()
    lw.on('leak-report', (r) => events.push(['leak-report', r]))
    lw.start({ attribution: false, snapshot: { dir, cooldownMs: 0 }, diagnose: { growthBytes: 1e12 } })
    const monitor = calls.monitors.at(-1)
    outcomes.push((r) => ({ status: 'written', trigger: r.trigger, path: r.path, bytes: 1, durationMs: 1 }))
    monitor.send('leak', { metric: 'heap', start: 0, end: 0, growth: 1 })
    for (let i = 0; i < 10; i++) await tick()
    monitor.send('leak-stopped', { metric: 'heap', start: 0, end: 0 })
    for (let i = 0; i < 50 && !events.some(([n]) => n === 'leak-report'); i++) await tick()
    lw.stop()
    const leak = events.find(([n]) => n === 'leak')[1]
    assert.equal(events.find(([n]) => n === 'leak-stopped')[1].id, leak.id)
    const [, report] = events.find(([n]) => n === 'leak-report')
    assert.deepEqual([report.status, report.reason], ['skipped', 'stopped-growing'])
  })
})
