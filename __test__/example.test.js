'use strict'

// examples/express-app as its users run it: its own dependencies installed from its lockfile
// (Express and prom-client from the registry, leakwatch linked to this checkout), started with
// `node server.js`, driven over HTTP into its leaking cache, then scraped on /metrics.

const test = require('node:test')
const assert = require('node:assert/strict')
const fs = require('node:fs')
const os = require('node:os')
const path = require('node:path')
const { spawn } = require('node:child_process')
const { root, runCommand } = require('./helpers')

const exampleDir = path.join(root, 'examples', 'express-app')

/** Parses Prometheus' text format into { name: [{ labels, value }] } plus TYPE lines. */
function parseMetrics(text) {
  const samples = {}
  const types = {}
  for (const line of text.split('\n')) {
    const type = /^# TYPE (\S+) (\S+)$/.exec(line)
    if (type) types[type[1]] = type[2]
    const m = /^([a-zA-Z_:][\w:]*)(?:\{(.*)\})? (\S+)$/.exec(line)
    if (!m || line.startsWith('#')) continue
    const labels = Object.fromEntries([...(m[2] || '').matchAll(/(\w+)="([^"]*)"/g)].map((l) => [l[1], l[2]]))
    ;(samples[m[1]] ||= []).push({ labels, value: Number(m[3]) })
  }
  const value = (name, labels = {}) => {
    const found = (samples[name] || []).find((s) => Object.entries(labels).every(([k, v]) => s.labels[k] === v))
    return found ? found.value : undefined
  }
  return { samples, types, value }
}

test('the Express example reports its leak, writes a snapshot and exports the metrics', async (t) => {
  const ci = await runCommand('npm', ['ci', '--no-audit', '--no-fund'], { cwd: exampleDir, timeoutMs: 300_000 })
  assert.equal(ci.code, 0, `npm ci in examples/express-app:\n${ci.stderr}`)

  const snapshotDir = fs.mkdtempSync(path.join(os.tmpdir(), 'leakwatch-example-'))
  t.after(() => fs.rmSync(snapshotDir, { recursive: true, force: true }))
  const server = spawn(process.execPath, ['server.js'], {
    cwd: exampleDir,
    env: { ...process.env, PORT: '0', SNAPSHOT_DIR: snapshotDir },
    stdio: ['ignore', 'pipe', 'pipe'],
  })
  t.after(() => server.kill('SIGKILL'))
  let output = ''
  const seen = (pattern) => pattern.test(output)
  server.stdout.on('data', (d) => { output += d })
  server.stderr.on('data', (d) => { output += d })
  const exited = new Promise((resolve) => server.on('exit', (code, signal) => resolve({ code, signal })))

  const deadline = Date.now() + 120_000
  const until = async (pattern) => {
    while (!seen(pattern)) {
      if (Date.now() > deadline) throw new Error(`timed out waiting for ${pattern}; output:\n${output}`)
      await new Promise((r) => setTimeout(r, 50))
    }
  }
  await until(/listening on http:\/\/[\d.]+:\d+/)
  const base = /listening on (http:\/\/[\d.]+:\d+)/.exec(output)[1]

  // About 60 distinct reports a second (~6 MB/s of cache) until leakwatch has reported the
  // leak and written its snapshot; the load continues through the scrape.
  // A request may fail when the server closes an idle keep-alive socket just as it is reused
  // (likelier right after the dump blocked it): the load driver counts those and goes on.
  let customer = 0
  let failed = 0
  let loading = true
  const load = (async () => {
    while (loading) {
      await Promise.all(Array.from({ length: 6 }, () =>
        fetch(`${base}/report?customer=${++customer}&from=2026-01-01`)
          .then((r) => r.arrayBuffer(), () => { failed++ })))
      await new Promise((r) => setTimeout(r, 100))
    }
  })()
  const scrape = async () => {
    for (let attempt = 0; ; attempt++) {
      try {
        return await (await fetch(`${base}/metrics`)).text()
      } catch (err) {
        if (attempt === 2) throw err
      }
    }
  }
  try {
    await until(/\[leakwatch\] leak: heap grew/)
    await until(/\[leakwatch\] heap snapshot: (\S+)/)
    const metrics = await scrape()
    const { types, value } = parseMetrics(metrics)
    assert.ok(failed < customer / 10, `${failed} of ${customer} requests failed`)
    t.diagnostic(`after ${customer} reports (${failed} failed): ${output.split('\n').filter((l) => l.includes('[leakwatch]')).join(' | ')}`)

    assert.equal(value('leakwatch_running'), 1)
    assert.equal(value('leakwatch_leak_suspected', { metric: 'heap' }), 1, metrics)
    assert.ok(value('leakwatch_leaks_total', { metric: 'heap' }) >= 1)
    // The dump's own memory and freeze are not taken for a leak or its end.
    assert.equal(value('leakwatch_leaks_total', { metric: 'rss' }), 0, output)
    assert.doesNotMatch(output, /stopped growing/)
    const rate = value('leakwatch_growth_rate_bytes_per_second', { metric: 'heap' })
    assert.ok(rate > 100_000 && rate < 1e9, `heap growth ${rate} B/s`)
    const limit = value('leakwatch_heap_limit_bytes')
    const baseline = value('leakwatch_heap_baseline_bytes')
    assert.ok(baseline > 20e6 && baseline < limit, `post-GC baseline ${baseline}`)
    assert.ok(value('leakwatch_heap_used_bytes') > 20e6)
    assert.ok(value('leakwatch_resident_memory_bytes') > baseline)
    assert.ok(value('leakwatch_external_memory_bytes') > 0)
    assert.ok(value('leakwatch_gc_collections_total', { type: 'scavenge' }) >= 1)
    assert.ok(value('leakwatch_gc_collections_total', { type: 'markSweepCompact' }) >= 1)
    const pause = value('leakwatch_gc_pause_seconds_total', { type: 'markSweepCompact' })
    assert.ok(pause > 0 && pause < 60, `full GC pauses ${pause} s`)

    const file = /\[leakwatch\] heap snapshot: (\S+)/.exec(output)[1]
    assert.equal(path.dirname(file), snapshotDir)
    assert.equal(value('leakwatch_snapshots_written_total', { trigger: 'leak' }), 1)
    assert.equal(value('leakwatch_snapshot_written_bytes_total'), fs.statSync(file).size)
    assert.equal(value('leakwatch_snapshots_skipped_total', { reason: 'memory' }), 0)

    for (const [name, type] of Object.entries(types).filter(([n]) => n.startsWith('leakwatch_'))) {
      if (type === 'counter') assert.match(name, /_total$/, `counter ${name}`)
      else assert.doesNotMatch(name, /_total$/, `gauge ${name}`)
    }
    assert.ok(value('process_resident_memory_bytes') > 0, 'prom-client default metrics alongside')
  } finally {
    loading = false
    await load
  }
  server.kill('SIGTERM')
  assert.deepEqual(await exited, { code: 0, signal: null }, output)
})
