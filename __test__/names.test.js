'use strict'

// The fixed vocabularies exist once in Rust, as the binding's string enums; lib/names.js and
// the options spec spell them for JavaScript that runs before (or without) a binding. This
// test keeps the two spellings equal, so neither can drift.

const test = require('node:test')
const assert = require('node:assert/strict')
const { loadBinding } = require('../lib/native')
const names = require('../lib/names')
const { DEFAULTS } = require('../lib/options')
const { createLeakwatch } = require('../lib/leakwatch')

const binding = loadBinding()
const sorted = (values) => [...values].sort()

test('lib/names.js spells the binding\'s string enums exactly', () => {
  assert.deepEqual(sorted(names.TRIGGERS), sorted(Object.values(binding.SnapshotTrigger)))
  assert.deepEqual(sorted(names.GC_KINDS), sorted(Object.values(binding.GcType)))
  assert.deepEqual(sorted(names.METRICS), sorted(Object.values(binding.LeakMetric)))
  // 'cooldown' is decided by the facade, the others by the native guard.
  assert.deepEqual(sorted(names.SKIP_REASONS.filter((r) => r !== 'cooldown')),
    sorted(Object.values(binding.SnapshotSkipReason)))
})

test('every detection mode the options accept is one the binding knows, and no other', () => {
  const lw = createLeakwatch(binding)
  for (const mode of Object.values(binding.DetectionMode)) {
    const w = lw.start({ detection: { mode }, attribution: false })
    assert.equal(w.options.detection.mode, mode)
    w.stop()
  }
  assert.ok(Object.values(binding.DetectionMode).includes(DEFAULTS.detection.mode))
  assert.throws(() => lw.start({ detection: { mode: 'sometimes' } }), { code: 'ERR_LEAKWATCH_OPTION_OUT_OF_RANGE' })
})

test('detection.minPoints accepts up to what the trend window can reach, and refuses more', () => {
  const lw = createLeakwatch(binding)
  const most = binding.TREND_MAX_MIN_POINTS
  const w = lw.start({ detection: { minPoints: most }, attribution: false })
  assert.equal(w.options.detection.minPoints, most)
  w.stop()
  assert.throws(() => lw.start({ detection: { minPoints: most + 1 } }),
    { name: 'RangeError', code: 'ERR_LEAKWATCH_OPTION_OUT_OF_RANGE' })
})
