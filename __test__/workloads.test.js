'use strict'

// Detection quality on real workloads with their natural GC schedule (no forced GCs):
// every workload of bench/detection runs in its own child process with leakwatch's default
// options in a modelled 512 MB container (a 512 MB heap limit and
// `detection.memoryLimitBytes`): their leaks, ~0.5–1 MB/s, are then minutes from the limit,
// so urgent. Leaks must raise `leak` on the right metric; non-leaks
// must stay silent. One leak also runs with the machine's default heap limit, where the same
// growth is an hour or more away and must first be seen rising for longer. (The benchmark
// runs the same workloads for 60 s against memwatch's rule.)

const { describe, test } = require('node:test')
const assert = require('node:assert/strict')
const { spawn } = require('node:child_process')
const path = require('node:path')
const { WORKLOADS } = require('../bench/detection/workloads')

const CHILD = path.join(__dirname, '..', 'bench', 'detection', 'child.js')
// Leak workloads stop at the first `leak`; non-leaks run this long with no alarm.
const LEAK_CAP_S = 55
const STEADY_S = 40
const EXPECTED_METRIC = { stream: 'external' }

const CONTAINER_HEAP = ['--max-old-space-size=512']
// Long enough for a non-urgent leak: `detection.urgency.sustainMs` (75 s) of growth and more.
const RELAXED_CAP_S = 110

const CONTAINER_OPTIONS = ['--options', JSON.stringify({ detection: { memoryLimitBytes: 512 * 1024 * 1024 } })]

function run(name, args, { container = true, capS = LEAK_CAP_S } = {}) {
  return new Promise((resolve, reject) => {
    const argv = container ? [...CONTAINER_HEAP, CHILD, name, ...args, ...CONTAINER_OPTIONS] : [CHILD, name, ...args]
    const child = spawn(process.execPath, argv, { stdio: ['ignore', 'pipe', 'pipe'] })
    let out = ''
    let err = ''
    child.stdout.on('data', (d) => { out += d })
    child.stderr.on('data', (d) => { err += d })
    const timer = setTimeout(() => child.kill('SIGKILL'), (capS + 15) * 1000)
    child.on('error', reject)
    child.on('close', (code, signal) => {
      clearTimeout(timer)
      resolve({ code, signal, stderr: err, result: JSON.parse(out.trim().split('\n').pop() || 'null') })
    })
  })
}

describe('detection on workloads', { concurrency: 3 }, () => {
  // The longest test first, so it overlaps the others.
  test('a leak an hour from the default heap limit is reported after the urgency span, not at warm-up', async () => {
    const { code, stderr, result } = await run('closures', ['--seconds', String(RELAXED_CAP_S), '--stop-on-leak'],
      { container: false, capS: RELAXED_CAP_S })
    assert.equal(code, 0, stderr)
    assert.ok(result.found.length >= 1, `no leak in ${result.seconds} s`)
    const first = result.found[0]
    assert.equal(first.metric, 'heap', first.reason)
    // The evidence asked for a growth this far from its limit (detection.md, "Evidence scaled
    // to urgency"): seen rising for most of sustainMs, where the container run needs ~10 s.
    assert.ok(first.timeToLimitMs > 10 * 60_000, `${first.timeToLimitMs} ms to the limit`)
    assert.ok(first.windowMs >= 40_000, `reported on a ${first.windowMs} ms window: ${first.reason}`)
  })

  // The longest runs first, so they overlap the short ones.
  for (const w of [...WORKLOADS].sort((a, b) => (b.seconds || 0) - (a.seconds || 0))) {
    test(`${w.name}: ${w.leaks ? 'leak found' : 'no alarm'} — ${w.what}`, async () => {
      const steady = w.seconds || STEADY_S
      const args = w.leaks ? ['--seconds', String(LEAK_CAP_S), '--stop-on-leak'] : ['--seconds', String(steady)]
      const { code, signal, stderr, result } = await run(w.name, args, { container: !w.machineLimits, capS: Math.max(LEAK_CAP_S, steady) })
      assert.equal(code, 0, `exit ${code} ${signal} ${stderr}`)
      assert.equal(stderr, '', 'no error output')
      if (w.leaks) {
        assert.ok(result.found.length >= 1, `no leak in ${result.seconds} s (${result.fullGcs} full GCs)`)
        const first = result.found[0]
        assert.equal(first.metric, EXPECTED_METRIC[w.name] || 'heap', first.reason)
        assert.match(first.reason, /grew [\d.]+ [kMG]B in [\d.]+ s over \d+ full GCs? \([\d.]+ [kMGT]?B\/h\)(; at this rate .+ is reached in [\d.]+ (s|min|h))?$/)
        assert.ok(first.bytesPerHour > 0)
      } else {
        assert.deepEqual(result.found.map((f) => f.reason), [], 'false alarm')
        assert.ok(result.seconds >= steady - 1)
      }
    })
  }
})
