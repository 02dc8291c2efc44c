'use strict'

// Detection quality on real workloads with their natural GC schedule (no forced GCs):
// every workload of bench/detection runs in its own child process with leakwatch's default
// options in a modelled 512 MB container (a 512 MB heap limit and
// `detection.memoryLimitBytes`): their leaks, ~0.5–1 MB/s, are then minutes from the limit,
// so urgent. Leaks must raise `leak` on the right metric; non-leaks
// must stay silent. One leak also runs with the machine's default heap limit, where the same
// growth is an hour or more away and must first be seen rising for longer. (The benchmark
// runs the same workloads for 60 s against memwatch's rule.) A leak that starts late must be
// silent before it starts; a deploy workload is two processes in sequence (child.js), and a
// leak must be found in both, a non-leak silent in both. A non-leak whose growth starts late
// runs with a 20 s window, so that the window is full when its growth starts (as after the
// benchmark's 300 healthy seconds with the default 120 s one): it must then be held back by
// how long the growth itself has lasted, not by the process's youth.

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
// The benchmark's late leak starts after 300 healthy seconds; here after this many.
const LEAK_AFTER_S = 25
// A deploy: the first process runs this long (to its first `leak` if it leaks), then the
// second as long as any other run of the workload.
const FIRST_PROCESS_S = 45

const CONTAINER_HEAP = ['--max-old-space-size=512']
// Long enough for a non-urgent leak: `detection.urgency.sustainMs` (75 s) of growth and more.
const RELAXED_CAP_S = 110
// A leak judged on the machine's limits whose rate falls as it goes (session-scan): more room.
const SLOW_CAP_S = 150

const CONTAINER_DETECTION = { memoryLimitBytes: 512 * 1024 * 1024 }
const CONTAINER_OPTIONS = ['--options', JSON.stringify({ detection: CONTAINER_DETECTION })]
const LATE_GROWTH_OPTIONS = ['--options', JSON.stringify({ detection: { windowMs: 20_000 } })]

function run(name, args, { container = true, capS = LEAK_CAP_S, containerOptions = CONTAINER_OPTIONS } = {}) {
  return new Promise((resolve, reject) => {
    const argv = container ? [...CONTAINER_HEAP, CHILD, name, ...args, ...containerOptions] : [CHILD, name, ...args]
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

  // A warm-up minutes from the container's limit is urgent growth: reported by default, as a
  // leak at its rate would be; `urgency.minSpanMs` above the warm-up's length holds it back.
  test('a warm-up urgent in its container: reported by default, silent with urgency.minSpanMs above its length', async () => {
    const floor = ['--options', JSON.stringify({ detection: { ...CONTAINER_DETECTION, urgency: { minSpanMs: 60_000 } } })]
    const [byDefault, withFloor] = await Promise.all([
      run('warming-cache', ['--seconds', String(STEADY_S), '--stop-on-leak']),
      run('warming-cache', ['--seconds', '90'], { containerOptions: floor, capS: 90 }),
    ])
    for (const r of [byDefault, withFloor]) assert.equal(r.code, 0, r.stderr)
    const first = byDefault.result.found[0]
    assert.ok(first, `no leak by default in ${byDefault.result.seconds} s`)
    assert.ok(first.timeToLimitMs < 10 * 60_000, `${first.timeToLimitMs} ms to the limit: ${first.reason}`)
    assert.deepEqual(withFloor.result.found.map((f) => f.reason), [], 'false alarm with the floor')
    assert.ok(withFloor.result.seconds >= 89)
  })

  // How long one process of a workload may run: a leak to its first `leak` (on the machine's
  // limits that takes the evidence span), a non-leak its silent seconds.
  const processSeconds = (w) => (w.leaks ? (w.machineLimits ? SLOW_CAP_S : LEAK_CAP_S) : w.seconds || STEADY_S)
  const healthySeconds = (w) => (w.leakAfterS ? LEAK_AFTER_S : 0)
  const totalSeconds = (w) => healthySeconds(w) + processSeconds(w) + (w.deploy ? FIRST_PROCESS_S : 0)

  // The longest runs first, so they overlap the short ones.
  for (const w of [...WORKLOADS].sort((a, b) => totalSeconds(b) - totalSeconds(a))) {
    const healthyS = healthySeconds(w)
    const late = healthyS ? ` after ${healthyS} s healthy (the benchmark: ${w.leakAfterS} s)` : ''
    const deploy = w.deploy ? (w.leaks ? ' in both processes' : ' in either process') : ''
    test(`${w.name}: ${w.leaks ? 'leak found' : 'no alarm'}${late}${deploy} — ${w.what}`, async () => {
      const seconds = healthyS + processSeconds(w)
      const args = ['--seconds', String(seconds)]
      if (w.leaks) args.push('--stop-on-leak')
      if (healthyS) args.push('--leak-after', String(healthyS))
      if (w.deploy) args.push('--first-seconds', String(w.leaks ? seconds : FIRST_PROCESS_S))
      if (healthyS && !w.leaks) args.push(...LATE_GROWTH_OPTIONS)
      const { code, signal, stderr, result } = await run(w.name, args, { container: !w.machineLimits, capS: totalSeconds(w) + (w.deploy && w.leaks ? seconds : 0) })
      assert.equal(code, 0, `exit ${code} ${signal} ${stderr}`)
      assert.equal(stderr, '', 'no error output')
      if (w.leaks) {
        // Nothing while the service was healthy; then the leak, in every process.
        assert.deepEqual(result.found.filter((f) => f.t < healthyS).map((f) => f.reason), [], 'false alarm before the leak started')
        for (const phase of w.deploy ? [1, 2] : [undefined]) {
          const first = result.found.find((f) => f.phase === phase)
          assert.ok(first, `no leak${phase ? ` in process ${phase}` : ''} in ${result.seconds} s (${result.fullGcs} full GCs)`)
          assert.equal(first.metric, EXPECTED_METRIC[w.name] || 'heap', first.reason)
          assert.match(first.reason, /grew [\d.]+ [kMG]B in [\d.]+ s over \d+ full GCs? \([\d.]+ [kMGT]?B\/h\)(; at this rate .+ is reached in [\d.]+ (s|min|h))?$/)
          assert.ok(first.bytesPerHour > 0)
        }
      } else {
        assert.deepEqual(result.found.map((f) => `${f.phase ? `process ${f.phase}: ` : ''}${f.reason}`), [], 'false alarm')
        assert.ok(result.seconds >= (w.deploy ? FIRST_PROCESS_S : 0) + processSeconds(w) - 1)
        if (w.deploy) assert.equal(result.phases.length, 2)
      }
    })
  }
})
