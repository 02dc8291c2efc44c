'use strict'

// End-to-end plumbing of the `leak` event: detectors fed by real full GCs in a child
// process. (Detection quality on natural GC schedules is measured by bench/detection.)

const test = require('node:test')
const assert = require('node:assert/strict')
const { runFixture, jsonLines } = require('./helpers')

test('a growing heap raises one leak event with the contract payload', async () => {
  // A 256 MB heap, as in a small container: ~6 MB/s reaches it within a minute, so the leak
  // is urgent and reported without waiting for more evidence.
  const r = await runFixture('leak-workload.js', { args: ['leaky'], nodeArgs: ['--max-old-space-size=256'] })
  assert.equal(r.code, 0, r.stderr)
  const [out] = jsonLines(r)
  assert.ok(out.leaks.length >= 1, JSON.stringify(out))
  const leak = out.leaks[0]
  assert.deepEqual(Object.keys(leak).sort(), ['attribution', 'baseline', 'bytesPerHour', 'current', 'end',
    'gcCount', 'growth', 'id', 'limit', 'metric', 'reason', 'start', 'timeToLimitMs', 'topAllocations', 'windowMs'])
  assert.match(leak.id, /^leak-\d+-0-1$/)
  assert.equal(leak.metric, 'heap')
  assert.ok(leak.growth >= 8 * 1024 * 1024, `growth ${leak.growth}`)
  assert.ok(leak.current > leak.baseline)
  assert.ok(leak.gcCount >= 4)
  assert.ok(new Date(leak.end) > new Date(leak.start))
  // bytesPerHour agrees with growth over the window.
  const perHour = leak.growth / (leak.windowMs / 3_600_000)
  assert.ok(Math.abs(perHour - leak.bytesPerHour) / leak.bytesPerHour < 0.01)
  assert.match(leak.reason, /^heap grew [\d.]+ [kMG]B in [\d.]+ s over \d+ full GCs \([\d.]+ [kMGT]?B\/h\); at this rate (the heap limit|the cgroup memory limit|the system's available memory) is reached in [\d.]+ (s|min|h)$/)
  // Time to the limit: what is left of it at the leak's rate.
  assert.equal(leak.limit.kind, 'heap-limit')
  assert.ok(leak.timeToLimitMs < 10 * 60_000, `${leak.timeToLimitMs} ms`)
  const left = (leak.limit.bytes - leak.current) / (leak.bytesPerHour / 3_600_000)
  assert.ok(Math.abs(leak.timeToLimitMs - left) < 0.05 * left, `${leak.timeToLimitMs} ms vs ${left}`)
  assert.equal(out.suspected.heap, true)
  // Allocation sites: the retained objects were allocated inside makeOrderBatch.
  // The profiler started on early growth; `since` says when.
  assert.deepEqual(Object.keys(leak.attribution).sort(), ['since', 'status'])
  assert.equal(leak.attribution.status, 'ok')
  assert.ok(!Number.isNaN(Date.parse(leak.attribution.since)), JSON.stringify(leak.attribution))
  assert.ok(leak.topAllocations.length >= 1 && leak.topAllocations.length <= 5)
  const site = leak.topAllocations[0]
  assert.deepEqual(Object.keys(site).sort(), ['bytes', 'column', 'functionName', 'line', 'stack', 'url'])
  assert.ok(site.bytes > 1024 * 1024, `bytes ${site.bytes}`)
  assert.ok(site.stack.some((frame) => /^makeOrderBatch \(.*leak-workload\.js:\d+:\d+\)$/.test(frame)), site.stack.join('\n'))
  const sampled = leak.topAllocations.reduce((sum, s) => sum + s.bytes, 0)
  assert.ok(sampled <= leak.growth * 3, `sampled ${sampled} vs growth ${leak.growth}`)
})

test('attribution off or taken away: the leak still arrives and says why there are no sites', async () => {
  // Another inspector client stops the sampling profiler once leakwatch has started it.
  // A small heap, so the fast leak is urgent and reported without waiting for more evidence.
  const small = ['--max-old-space-size=256']
  const r = await runFixture('leak-attribution-probe.js', { args: ['on', 'taken'], nodeArgs: small })
  assert.equal(r.code, 0, r.stderr)
  const [taken] = jsonLines(r)
  assert.equal(taken.attribution.status, 'busy', JSON.stringify(taken))
  assert.match(taken.attribution.message, /not started/i)
  assert.deepEqual(taken.sites, [])

  const r2 = await runFixture('leak-attribution-probe.js', { args: ['off'], nodeArgs: small })
  assert.equal(r2.code, 0, r2.stderr)
  const [off] = jsonLines(r2)
  assert.deepEqual(off.attribution, { status: 'off' })
  assert.equal(off.sites, undefined)
})

test('a steady heap making only garbage raises no leak', async () => {
  const r = await runFixture('leak-workload.js', { args: ['steady'] })
  assert.equal(r.code, 0, r.stderr)
  const [out] = jsonLines(r)
  assert.deepEqual(out.leaks, [])
  assert.deepEqual(out.suspected, { heap: false, external: false, rss: false })
})

test('the leak event reaches module listeners and carries Dates', async () => {
  const r = await runFixture('leak-module-listeners.js', { nodeArgs: ['--expose-gc'] })
  assert.equal(r.code, 0, r.stderr)
  const [out] = jsonLines(r)
  assert.equal(out.start, true)
  assert.equal(out.end, true)
  assert.equal(out.metric, 'heap')
  // The baseline before the first increase and the 3 growing ones.
  assert.match(out.reason, /in [\d.]+ s over 4 full GCs/)
})
