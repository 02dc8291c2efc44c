'use strict'

const test = require('node:test')
const assert = require('node:assert/strict')
const { runFixture, jsonLines } = require('./helpers')

test('a script that only calls start() exits on its own', async () => {
  const started = Date.now()
  const r = await runFixture('lifecycle-start-only.js', { timeoutMs: 20_000 })
  assert.equal(r.code, 0, r.stderr)
  assert.deepEqual(r.lines, ['started'])
  assert.ok(Date.now() - started < 15_000)
})

test('a throwing stats listener reaches uncaughtException, not the native layer', async () => {
  const r = await runFixture('lifecycle-throwing-listener-handled.js')
  assert.equal(r.code, 0, r.stderr)
  const [counts] = jsonLines(r)
  assert.ok(counts.delivered >= 3, `delivered ${counts.delivered}`)
  assert.equal(counts.caught, counts.delivered, 'every throw surfaces once')
  assert.match(r.stdout, /caught listener bug 1/)
})

test('without an uncaughtException handler a throwing listener exits like any uncaught error', async () => {
  const r = await runFixture('lifecycle-throwing-listener-unhandled.js')
  assert.equal(r.signal, null, 'no abort or signal')
  assert.equal(r.code, 1)
  assert.match(r.stderr, /listener exploded/)
  assert.doesNotMatch(r.stderr, /FATAL|Abort|napi/i)
})

test('perf_hooks source when asked: same stats, from GC entries', async () => {
  const r = await runFixture('lifecycle-perf-hooks-source.js')
  assert.equal(r.code, 0, r.stderr)
  const [s] = jsonLines(r)
  assert.equal(s.source, 'perf_hooks')
  assert.equal(s.type, 'markSweepCompact')
  assert.ok(s.full >= 1 && s.used > 0)
})

test('V8 symbols unavailable: error event with a code, then perf_hooks fallback', async () => {
  const env = { LEAKWATCH_DISABLE_V8_SYMBOLS: '1' }
  const r = await runFixture('lifecycle-no-v8-symbols.js', { env })
  assert.equal(r.code, 0, r.stderr)
  const out = jsonLines(r)
  assert.equal(out[0].error, 'ERR_LEAKWATCH_V8_HOOKS_DISABLED')
  assert.match(out[0].message, /perf_hooks/)
  assert.deepEqual(out[1], { source: 'perf_hooks', full: 1 })

  // Nobody listening for 'error': written once to stderr, the process carries on.
  const quiet = await runFixture('lifecycle-no-v8-symbols-unheard.js', { env })
  assert.equal(quiet.code, 0, quiet.stderr)
  assert.deepEqual(quiet.lines, ['stats'])
  assert.equal(quiet.stderr.match(/ERR_LEAKWATCH_V8_HOOKS_DISABLED/g).length, 1, quiet.stderr)
})

test('exits cleanly with a watcher running through an allocation-heavy workload', async () => {
  // Natural exit with GC callbacks installed: they must be gone before V8's teardown GCs.
  const r = await runFixture('lifecycle-exit-under-allocation.js', { nodeArgs: ['--predictable-gc-schedule', '--no-incremental-marking-task',
    '--min-semi-space-size=1', '--max-semi-space-size=1'] })
  assert.equal(r.signal, null, r.stderr)
  assert.equal(r.code, 0, r.stderr)
  assert.deepEqual(r.lines, ['done'])
})

test('out of file descriptors: stats keep coming, one error event, stop() does not throw', async () => {
  // ulimit through sh (POSIX), so the descriptors run out after a few dozen opens.
  const r = await runFixture('lifecycle-fd-exhaustion.js', {
    prefix: ['sh', '-c', 'ulimit -n 128 && exec "$0" "$@"'],
  })
  assert.equal(r.signal, null)
  assert.equal(r.code, 0, r.stderr)
  const [result] = jsonLines(r)
  assert.equal(result.usageThrows, true, 'process.memoryUsage() really failed with EMFILE')
  assert.ok(result.statsAfterExhaustion >= 3, `stats after exhaustion: ${result.statsAfterExhaustion}`)
  assert.equal(typeof result.arrayBuffers, 'number', 'the last arrayBuffers reading is kept')
  assert.deepEqual(result.errors, ['ERR_LEAKWATCH_MEMORY_USAGE'])
  assert.equal(result.stopThrew, false)
  assert.equal(result.signalListeners, 0, 'stop() removed the snapshot signal listener')
})
