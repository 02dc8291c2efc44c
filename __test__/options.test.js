'use strict'

const test = require('node:test')
const assert = require('node:assert/strict')
const leakwatch = require('..')

function assertOptionError(options, { type, code, mentions }) {
  assert.throws(() => leakwatch.start(options), (err) => {
    assert.ok(err instanceof type, `expected ${type.name}, got ${err && err.constructor.name}`)
    assert.equal(err.code, code)
    for (const word of mentions) assert.match(err.message, new RegExp(word))
    return true
  })
  assert.equal(leakwatch.current(), null, 'a rejected start() must not leave a watcher running')
}

test('bad option types throw TypeError naming the option', () => {
  const cases = [
    [{ sampleIntervalMs: '1000' }, 'sampleIntervalMs'],
    [{ sampleIntervalMs: NaN }, 'sampleIntervalMs'],
    [{ statsIntervalMs: null }, 'statsIntervalMs'],
    [{ statsIntervalMs: {} }, 'statsIntervalMs'],
    [{ gcSource: 1 }, 'gcSource'],
  ]
  for (const [options, name] of cases) {
    assertOptionError(options, {
      type: TypeError, code: 'ERR_LEAKWATCH_INVALID_OPTION', mentions: [name, 'must be'],
    })
  }
})

test('out-of-range options throw RangeError naming the option and the range', () => {
  const cases = [
    [{ sampleIntervalMs: 0 }, 'sampleIntervalMs'],
    [{ sampleIntervalMs: 9 }, 'sampleIntervalMs'],
    [{ sampleIntervalMs: 1.5 }, 'sampleIntervalMs'],
    [{ sampleIntervalMs: Infinity }, 'sampleIntervalMs'],
    [{ sampleIntervalMs: 3_600_001 }, 'sampleIntervalMs'],
    [{ statsIntervalMs: -1 }, 'statsIntervalMs'],
    [{ gcSource: 'v9' }, 'gcSource'],
  ]
  for (const [options, name] of cases) {
    assertOptionError(options, {
      type: RangeError, code: 'ERR_LEAKWATCH_OPTION_OUT_OF_RANGE', mentions: [name, 'between|"auto"'],
    })
  }
})

test('unknown options and non-object options are rejected', () => {
  assertOptionError({ sampleIntervallMs: 100 }, {
    type: TypeError, code: 'ERR_LEAKWATCH_UNKNOWN_OPTION', mentions: ['sampleIntervallMs', 'sampleIntervalMs'],
  })
  for (const bad of [42, 'fast', [], () => {}]) {
    assertOptionError(bad, { type: TypeError, code: 'ERR_LEAKWATCH_INVALID_OPTION', mentions: ['options'] })
  }
})

test('defaults are documented values', () => {
  const MiB = 1024 * 1024
  assert.deepEqual(JSON.parse(JSON.stringify(leakwatch.defaults)), {
    sampleIntervalMs: 1000,
    statsIntervalMs: 0,
    gcSource: 'auto',
    attribution: { samplingIntervalBytes: 512 * 1024, top: 5, when: 'growth' },
    snapshot: null,
    diagnose: null,
    detection: {
      mode: 'trend',
      consecutiveGcs: 5,
      windowMs: 120000,
      warmupMs: 10000,
      minPoints: 5,
      minConsistency: 0.6,
      plateauRatio: 0.5,
      rearmRatio: 0.25,
      confirm: { maxPauseRatio: 0.01, minIntervalMs: 1000 },
      urgency: { urgentMs: 600000, relaxedMs: 3600000, sustainMs: 75000, minSpanMs: 0 },
      memoryLimitBytes: null,
      heap: { minGrowthBytes: 8 * MiB, minGrowthRatio: 0.1 },
      external: { minGrowthBytes: 8 * MiB, minGrowthRatio: 0.1 },
      rss: { minGrowthBytes: 32 * MiB, minGrowthRatio: 0.2 },
    },
  })
})

test('snapshot options: defaults when given, checked by full name', () => {
  const w = leakwatch.start({ snapshot: {} })
  assert.deepEqual(JSON.parse(JSON.stringify(w.options.snapshot)), {
    dir: null,
    onLeak: true,
    heapUsedPercent: null,
    rssBytes: null,
    nearHeapLimit: false,
    signal: null,
    cooldownMs: 600000,
    maxFiles: 5,
    minFreeDiskBytes: 1024 * 1024 * 1024,
    memoryLimitBytes: null,
    maxPauseMs: 30000,
  })
  w.stop()
  assertOptionError({ snapshot: { maxPauseMs: 10 } }, {
    type: RangeError, code: 'ERR_LEAKWATCH_OPTION_OUT_OF_RANGE', mentions: ['snapshot.maxPauseMs', '100'],
  })
  assertOptionError({ snapshot: { maxPauseMs: '30s' } }, {
    type: TypeError, code: 'ERR_LEAKWATCH_INVALID_OPTION', mentions: ['snapshot.maxPauseMs'],
  })
  assertOptionError({ snapshot: { signal: 'SIGTERM' } }, {
    type: RangeError, code: 'ERR_LEAKWATCH_OPTION_OUT_OF_RANGE', mentions: ['snapshot.signal', 'SIGUSR2'],
  })
  assertOptionError({ snapshot: { signal: 12 } }, {
    type: TypeError, code: 'ERR_LEAKWATCH_INVALID_OPTION', mentions: ['snapshot.signal'],
  })
  assertOptionError({ snapshot: { heapUsedPercent: 0 } }, {
    type: RangeError, code: 'ERR_LEAKWATCH_OPTION_OUT_OF_RANGE', mentions: ['snapshot.heapUsedPercent', '1 and 100'],
  })
  assertOptionError({ snapshot: { onLeak: 'yes' } }, {
    type: TypeError, code: 'ERR_LEAKWATCH_INVALID_OPTION', mentions: ['snapshot.onLeak', 'a boolean'],
  })
  assertOptionError({ snapshot: { dir: '' } }, {
    type: TypeError, code: 'ERR_LEAKWATCH_INVALID_OPTION', mentions: ['snapshot.dir', 'non-empty string'],
  })
  assertOptionError({ snapshot: { maxFiles: 0 } }, {
    type: RangeError, code: 'ERR_LEAKWATCH_OPTION_OUT_OF_RANGE', mentions: ['snapshot.maxFiles'],
  })
  assertOptionError({ snapshot: { cooldown: 5 } }, {
    type: TypeError, code: 'ERR_LEAKWATCH_UNKNOWN_OPTION', mentions: ['snapshot.cooldown', 'cooldownMs'],
  })
  assertOptionError({ snapshot: true }, {
    type: TypeError, code: 'ERR_LEAKWATCH_INVALID_OPTION', mentions: ['snapshot', 'an object or false'],
  })
})

test('writeSnapshot rejects a bad path argument with a code', async () => {
  await assert.rejects(leakwatch.writeSnapshot(42), (err) =>
    err instanceof TypeError && err.code === 'ERR_LEAKWATCH_INVALID_ARGUMENT' && /writeSnapshot\(path\)/.test(err.message))
  await assert.rejects(leakwatch.writeSnapshot(''), { code: 'ERR_LEAKWATCH_INVALID_ARGUMENT' })
})

test('detection options are checked by their full name', () => {
  assertOptionError({ detection: { mode: 'fast' } }, {
    type: RangeError, code: 'ERR_LEAKWATCH_OPTION_OUT_OF_RANGE', mentions: ['detection.mode', '"trend"'],
  })
  assertOptionError({ detection: { windowMs: '60s' } }, {
    type: TypeError, code: 'ERR_LEAKWATCH_INVALID_OPTION', mentions: ['detection.windowMs'],
  })
  assertOptionError({ detection: { heap: { minGrowthRatio: -1 } } }, {
    type: RangeError, code: 'ERR_LEAKWATCH_OPTION_OUT_OF_RANGE', mentions: ['detection.heap.minGrowthRatio'],
  })
  assertOptionError({ detection: { rss: true } }, {
    type: TypeError, code: 'ERR_LEAKWATCH_INVALID_OPTION', mentions: ['detection.rss', 'an object or false'],
  })
  assertOptionError({ detection: { heap: { minGrowth: 1 } } }, {
    type: TypeError, code: 'ERR_LEAKWATCH_UNKNOWN_OPTION', mentions: ['detection.heap.minGrowth', 'minGrowthBytes'],
  })
  assertOptionError({ detection: { confirm: { maxPauseRatio: 0.9 } } }, {
    type: RangeError, code: 'ERR_LEAKWATCH_OPTION_OUT_OF_RANGE', mentions: ['detection.confirm.maxPauseRatio', '0.5'],
  })
  assertOptionError({ detection: { confirm: 'yes' } }, {
    type: TypeError, code: 'ERR_LEAKWATCH_INVALID_OPTION', mentions: ['detection.confirm', 'an object or false'],
  })
  assertOptionError({ detection: { urgency: { minSpanMs: -1 } } }, {
    type: RangeError, code: 'ERR_LEAKWATCH_OPTION_OUT_OF_RANGE', mentions: ['detection.urgency.minSpanMs', '86 400 000|86400000'],
  })
  assertOptionError({ detection: { urgency: { minSpanMs: 1.5 } } }, {
    type: RangeError, code: 'ERR_LEAKWATCH_OPTION_OUT_OF_RANGE', mentions: ['detection.urgency.minSpanMs'],
  })
  assertOptionError({ attribution: { samplingIntervalBytes: 10 } }, {
    type: RangeError, code: 'ERR_LEAKWATCH_OPTION_OUT_OF_RANGE', mentions: ['attribution.samplingIntervalBytes'],
  })
  assertOptionError({ attribution: { when: 'sometimes' } }, {
    type: RangeError, code: 'ERR_LEAKWATCH_OPTION_OUT_OF_RANGE', mentions: ['attribution.when', '"growth" or "always"'],
  })
  assertOptionError({ attribution: { when: true } }, {
    type: TypeError, code: 'ERR_LEAKWATCH_INVALID_OPTION', mentions: ['attribution.when', '"growth" or "always"'],
  })
  assertOptionError({ attribution: { every: 1 } }, {
    type: TypeError, code: 'ERR_LEAKWATCH_UNKNOWN_OPTION', mentions: ['attribution.every', 'samplingIntervalBytes'],
  })
  assertOptionError({ detection: 'on' }, {
    type: TypeError, code: 'ERR_LEAKWATCH_INVALID_OPTION', mentions: ['detection', 'an object'],
  })
  const w = leakwatch.start({ detection: { mode: 'consecutive', rss: false, heap: { minGrowthBytes: 0 } } })
  assert.equal(w.options.detection.rss, null)
  assert.equal(w.options.detection.heap.minGrowthRatio, 0.1)
  w.stop()
  const quiet = leakwatch.start({ detection: { confirm: false } })
  assert.equal(quiet.options.detection.confirm, null)
  quiet.stop()
})

test('start twice returns the running watcher; stop twice is harmless; start after stop works', () => {
  const first = leakwatch.start({ sampleIntervalMs: 50 })
  assert.ok(first instanceof leakwatch.Watcher)
  assert.equal(first.running, true)
  assert.equal(leakwatch.start(), first)
  assert.equal(leakwatch.start({ sampleIntervalMs: 500 }), first)
  assert.equal(first.options.sampleIntervalMs, 50, 'the running watcher keeps its options')
  assert.throws(() => leakwatch.start({ sampleIntervalMs: -5 }), RangeError,
    'options are validated even when a watcher is running')
  assert.equal(leakwatch.current(), first)
  first.stop()
  first.stop()
  leakwatch.stop()
  assert.equal(first.running, false)
  assert.equal(leakwatch.current(), null)
  const final = first.stats()
  assert.equal(typeof final.num_full_gc, 'number', 'stats() after stop returns the final figures')

  const second = leakwatch.start()
  assert.notEqual(second, first)
  assert.equal(second.running, true)
  leakwatch.gc()
  second.stop()
  assert.ok(second.stats().num_full_gc >= 1)
})
