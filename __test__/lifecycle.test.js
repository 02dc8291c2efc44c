'use strict'

const test = require('node:test')
const assert = require('node:assert/strict')
const { PKG, runScript, jsonLines } = require('./helpers')

test('a script that only calls start() exits on its own', async () => {
  const started = Date.now()
  const r = await runScript(`
    const leakwatch = require(${PKG})
    leakwatch.start({ sampleIntervalMs: 10 })
    leakwatch.on('stats', () => {})
    console.log('started')
  `, { timeoutMs: 20_000 })
  assert.equal(r.code, 0, r.stderr)
  assert.deepEqual(r.lines, ['started'])
  assert.ok(Date.now() - started < 15_000)
})

test('a throwing stats listener reaches uncaughtException, not the native layer', async () => {
  const r = await runScript(`
    const leakwatch = require(${PKG})
    let caught = 0
    let delivered = 0
    process.on('uncaughtException', (err) => { caught++; console.log('caught ' + err.message) })
    const w = leakwatch.start()
    w.on('stats', () => { delivered++; throw new Error('listener bug ' + delivered) })
    let n = 0
    const t = setInterval(() => {
      leakwatch.gc()
      if (++n === 3) {
        clearInterval(t)
        setTimeout(() => { console.log(JSON.stringify({ caught, delivered })); w.stop() }, 200)
      }
    }, 50)
  `)
  assert.equal(r.code, 0, r.stderr)
  const [counts] = jsonLines(r)
  assert.ok(counts.delivered >= 3, `delivered ${counts.delivered}`)
  assert.equal(counts.caught, counts.delivered, 'every throw surfaces once')
  assert.match(r.stdout, /caught listener bug 1/)
})

test('without an uncaughtException handler a throwing listener exits like any uncaught error', async () => {
  const r = await runScript(`
    const leakwatch = require(${PKG})
    leakwatch.on('stats', () => { throw new Error('listener exploded') })
    setInterval(() => leakwatch.gc(), 20)
  `)
  assert.equal(r.signal, null, 'no abort or signal')
  assert.equal(r.code, 1)
  assert.match(r.stderr, /listener exploded/)
  assert.doesNotMatch(r.stderr, /FATAL|Abort|napi/i)
})

test('perf_hooks source when asked: same stats, from GC entries', async () => {
  const r = await runScript(`
    const leakwatch = require(${PKG})
    const w = leakwatch.start({ gcSource: 'perf_hooks' })
    // leakwatch never keeps a process alive by itself; this one waits for its event.
    const keepAlive = setInterval(() => {}, 1000)
    w.on('stats', (s) => {
      console.log(JSON.stringify({ source: s.source, full: s.num_full_gc, type: s.gcType, used: s.heap.used }))
      w.stop()
      clearInterval(keepAlive)
    })
    const keep = []
    for (let i = 0; i < 1e5; i++) keep.push({ i })
    leakwatch.gc()
  `)
  assert.equal(r.code, 0, r.stderr)
  const [s] = jsonLines(r)
  assert.equal(s.source, 'perf_hooks')
  assert.equal(s.type, 'markSweepCompact')
  assert.ok(s.full >= 1 && s.used > 0)
})

test('V8 symbols unavailable: error event with a code, then perf_hooks fallback', async () => {
  const env = { LEAKWATCH_DISABLE_V8_SYMBOLS: '1' }
  const r = await runScript(`
    const leakwatch = require(${PKG})
    const w = leakwatch.start()
    w.on('error', (err) => console.log(JSON.stringify({ error: err.code, message: err.message })))
    const keepAlive = setInterval(() => {}, 1000)
    w.on('stats', (s) => {
      console.log(JSON.stringify({ source: s.source, full: s.num_full_gc }))
      w.stop()
      clearInterval(keepAlive)
    })
    setTimeout(() => leakwatch.gc(), 50)
  `, { env })
  assert.equal(r.code, 0, r.stderr)
  const out = jsonLines(r)
  assert.equal(out[0].error, 'ERR_LEAKWATCH_V8_HOOKS_DISABLED')
  assert.match(out[0].message, /perf_hooks/)
  assert.deepEqual(out[1], { source: 'perf_hooks', full: 1 })

  // Nobody listening for 'error': written once to stderr, the process carries on.
  const quiet = await runScript(`
    const leakwatch = require(${PKG})
    for (let i = 0; i < 3; i++) { leakwatch.start().stop() }
    const w = leakwatch.start()
    const keepAlive = setInterval(() => {}, 1000)
    w.on('stats', () => { console.log('stats'); w.stop(); clearInterval(keepAlive) })
    setTimeout(() => leakwatch.gc(), 50)
  `, { env })
  assert.equal(quiet.code, 0, quiet.stderr)
  assert.deepEqual(quiet.lines, ['stats'])
  assert.equal(quiet.stderr.match(/ERR_LEAKWATCH_V8_HOOKS_DISABLED/g).length, 1, quiet.stderr)
})

test('exits cleanly with a watcher running through an allocation-heavy workload', async () => {
  // Natural exit with GC callbacks installed: they must be gone before V8's teardown GCs.
  const r = await runScript(`
    const leakwatch = require(${PKG})
    leakwatch.start({ sampleIntervalMs: 10 }).on('stats', () => {})
    const ring = new Array(4096)
    let table = []
    let chunk = 0
    function work() {
      for (let i = 0; i < 20000; i++) {
        const n = chunk * 20000 + i
        ring[n & 4095] = { n, tags: [n, n + 1] }
        if ((n & 7) === 0) table.push({ n, values: [n, n * 2] })
      }
      if (table.length > 150000) table = []
      if (++chunk < 200) setImmediate(work)
      else console.log('done')
    }
    setImmediate(work)
  `, { nodeArgs: ['--predictable-gc-schedule', '--no-incremental-marking-task',
    '--min-semi-space-size=1', '--max-semi-space-size=1'] })
  assert.equal(r.signal, null, r.stderr)
  assert.equal(r.code, 0, r.stderr)
  assert.deepEqual(r.lines, ['done'])
})
