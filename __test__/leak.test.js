'use strict'

// End-to-end plumbing of the `leak` event: detectors fed by real full GCs in a child
// process. (Detection quality on natural GC schedules is measured by bench/detection.)

const test = require('node:test')
const assert = require('node:assert/strict')
const { PKG, runScript, jsonLines } = require('./helpers')

const WORKLOAD = (leaky) => `
  const leakwatch = require(${PKG})
  const w = leakwatch.start({
    sampleIntervalMs: 100,
    detection: { warmupMs: 1000, windowMs: 30000, minPoints: 4, rss: false },
  })
  const leaks = []
  w.on('leak', (info) => leaks.push(info))
  const retained = []
  const started = Date.now()
  function makeOrderBatch() {
    return Array.from({ length: 20000 }, (_, i) => ({ i, tag: 'req-' + i }))
  }
  const timer = setInterval(() => {
    const batch = makeOrderBatch()
    if (${leaky}) retained.push(batch)
    leakwatch.gc()
    if (Date.now() - started > 7000 || leaks.length > 0) {
      clearInterval(timer)
      setTimeout(() => {
        console.log(JSON.stringify({ leaks, suspected: w.stats().leak }))
        w.stop()
      }, 200)
    }
  }, 250)
`

// A fast heap leak with forced GCs that prints the first leak's attribution state and sites.
// `attribution` is the option's source text; `setup` runs right after start().
const ATTRIBUTION_PROBE = (attribution, setup = '') => `
  const inspector = require('node:inspector')
  const leakwatch = require(${PKG})
  const w = leakwatch.start({ attribution: ${attribution}, detection: { warmupMs: 1000, windowMs: 30000, minPoints: 4, rss: false } })
  ${setup}
  const retained = []
  w.on('leak', (info) => {
    console.log(JSON.stringify({ attribution: info.attribution, sites: info.topAllocations }))
    w.stop()
    clearInterval(timer)
  })
  const timer = setInterval(() => {
    retained.push(Array.from({ length: 20000 }, (_, i) => ({ i })))
    leakwatch.gc()
  }, 250)
`

test('a growing heap raises one leak event with the contract payload', async () => {
  const r = await runScript(WORKLOAD(true))
  assert.equal(r.code, 0, r.stderr)
  const [out] = jsonLines(r)
  assert.ok(out.leaks.length >= 1, JSON.stringify(out))
  const leak = out.leaks[0]
  assert.deepEqual(Object.keys(leak).sort(), ['attribution', 'baseline', 'bytesPerHour', 'current', 'end',
    'gcCount', 'growth', 'metric', 'reason', 'start', 'topAllocations', 'windowMs'])
  assert.equal(leak.metric, 'heap')
  assert.ok(leak.growth >= 8 * 1024 * 1024, `growth ${leak.growth}`)
  assert.ok(leak.current > leak.baseline)
  assert.ok(leak.gcCount >= 4)
  assert.ok(new Date(leak.end) > new Date(leak.start))
  // bytesPerHour agrees with growth over the window.
  const perHour = leak.growth / (leak.windowMs / 3_600_000)
  assert.ok(Math.abs(perHour - leak.bytesPerHour) / leak.bytesPerHour < 0.01)
  assert.match(leak.reason, /^heap grew [\d.]+ [kMG]B in [\d.]+ s over \d+ full GCs \([\d.]+ [kMGT]?B\/h\)$/)
  assert.equal(out.suspected.heap, true)
  // Allocation sites: the retained objects were allocated inside makeOrderBatch.
  assert.deepEqual(leak.attribution, { status: 'ok' })
  assert.ok(leak.topAllocations.length >= 1 && leak.topAllocations.length <= 5)
  const site = leak.topAllocations[0]
  assert.deepEqual(Object.keys(site).sort(), ['bytes', 'column', 'functionName', 'line', 'stack', 'url'])
  assert.ok(site.bytes > 1024 * 1024, `bytes ${site.bytes}`)
  assert.ok(site.stack.some((frame) => frame.startsWith('makeOrderBatch ([eval]')), site.stack.join('\n'))
  const sampled = leak.topAllocations.reduce((sum, s) => sum + s.bytes, 0)
  assert.ok(sampled <= leak.growth * 3, `sampled ${sampled} vs growth ${leak.growth}`)
})

test('attribution off or taken away: the leak still arrives and says why there are no sites', async () => {
  // Another inspector client stops the sampling profiler leakwatch started.
  const r = await runScript(ATTRIBUTION_PROBE('{}', `
    const other = new inspector.Session()
    other.connect()
    other.post('HeapProfiler.stopSampling', () => {})
  `))
  assert.equal(r.code, 0, r.stderr)
  const [taken] = jsonLines(r)
  assert.equal(taken.attribution.status, 'busy', JSON.stringify(taken))
  assert.match(taken.attribution.message, /not started/i)
  assert.deepEqual(taken.sites, [])

  const r2 = await runScript(ATTRIBUTION_PROBE('false'))
  assert.equal(r2.code, 0, r2.stderr)
  const [off] = jsonLines(r2)
  assert.deepEqual(off.attribution, { status: 'off' })
  assert.equal(off.sites, undefined)
})

test('a steady heap making only garbage raises no leak', async () => {
  const r = await runScript(WORKLOAD(false))
  assert.equal(r.code, 0, r.stderr)
  const [out] = jsonLines(r)
  assert.deepEqual(out.leaks, [])
  assert.deepEqual(out.suspected, { heap: false, external: false, rss: false })
})

test('the leak event reaches module listeners and carries Dates', async () => {
  const r = await runScript(`
    const leakwatch = require(${PKG})
    leakwatch.start({ detection: { mode: 'consecutive', consecutiveGcs: 3 } })
    const retained = []
    leakwatch.on('leak', (info) => {
      console.log(JSON.stringify({ start: info.start instanceof Date, end: info.end instanceof Date,
        metric: info.metric, reason: info.reason }))
      leakwatch.stop()
      clearInterval(timer)
    })
    // One full GC per tick (leakwatch.gc() runs several, which memwatch's rule sees as
    // equal, not growing, baselines).
    let ticks = 0
    const timer = setInterval(() => {
      retained.push(Array.from({ length: 20000 }, (_, i) => ({ i })))
      global.gc()
      if (++ticks > 200) { console.log('no leak'); leakwatch.stop(); clearInterval(timer) }
    }, 50)
  `, { nodeArgs: ['--expose-gc'] })
  assert.equal(r.code, 0, r.stderr)
  const [out] = jsonLines(r)
  assert.equal(out.start, true)
  assert.equal(out.end, true)
  assert.equal(out.metric, 'heap')
  // The baseline before the first increase and the 3 growing ones.
  assert.match(out.reason, /in [\d.]+ s over 4 full GCs/)
})
