'use strict'

// Detection quality on real workloads with their natural GC schedule (no forced GCs):
// every workload of bench/detection runs in its own child process with leakwatch's default
// options. Leaks must raise `leak` on the right metric; non-leaks must stay silent. (The
// benchmark runs the same workloads for 60 s against memwatch's rule.)

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

function run(name, args) {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [CHILD, name, ...args], { stdio: ['ignore', 'pipe', 'pipe'] })
    let out = ''
    let err = ''
    child.stdout.on('data', (d) => { out += d })
    child.stderr.on('data', (d) => { err += d })
    const timer = setTimeout(() => child.kill('SIGKILL'), (LEAK_CAP_S + 15) * 1000)
    child.on('error', reject)
    child.on('close', (code, signal) => {
      clearTimeout(timer)
      resolve({ code, signal, stderr: err, result: JSON.parse(out.trim().split('\n').pop() || 'null') })
    })
  })
}

describe('detection on workloads', { concurrency: 3 }, () => {
  for (const w of WORKLOADS) {
    test(`${w.name}: ${w.leaks ? 'leak found' : 'no alarm'} — ${w.what}`, async () => {
      const args = w.leaks ? ['--seconds', String(LEAK_CAP_S), '--stop-on-leak'] : ['--seconds', String(STEADY_S)]
      const { code, signal, stderr, result } = await run(w.name, args)
      assert.equal(code, 0, `exit ${code} ${signal} ${stderr}`)
      assert.equal(stderr, '', 'no error output')
      if (w.leaks) {
        assert.ok(result.found.length >= 1, `no leak in ${result.seconds} s (${result.fullGcs} full GCs)`)
        const first = result.found[0]
        assert.equal(first.metric, EXPECTED_METRIC[w.name] || 'heap', first.reason)
        assert.match(first.reason, /grew [\d.]+ [kMG]B in [\d.]+ s over \d+ full GCs? \([\d.]+ [kMGT]?B\/h\)$/)
        assert.ok(first.bytesPerHour > 0)
      } else {
        assert.deepEqual(result.found.map((f) => f.reason), [], 'false alarm')
        assert.ok(result.seconds >= STEADY_S - 1)
      }
    })
  }
})
