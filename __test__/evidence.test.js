'use strict'

// What a refused dump leaves instead of the snapshot: the sampling allocation profile (pprof)
// and V8's heap statistics, whole files under leakwatch's names, named in `snapshot-skipped`.
// The near-heap-limit hook's native statistics are checked in snapshot.test.js (the
// container-style test), maxFiles pruning of evidence here.

const test = require('node:test')
const assert = require('node:assert/strict')
const fs = require('node:fs')
const os = require('node:os')
const path = require('node:path')
const zlib = require('node:zlib')
const { Profile } = require('pprof-format')
const { runFixture, jsonLines } = require('./helpers')

test('a refused dump leaves the allocation profile and the heap statistics, and no partial file', async () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'lw-evidence-'))
  const r = await runFixture('evidence-refused-dump.js', { args: [dir] })
  assert.equal(r.code, 0, r.stderr)
  const [out] = jsonLines(r)
  assert.deepEqual(out.errors, [])
  assert.equal(out.rejected.code, 'ERR_LEAKWATCH_SNAPSHOT_SKIPPED')
  assert.equal(out.rejected.reason, 'memory')
  const [skip] = out.skipped
  assert.equal(out.skipped.length, 1)
  assert.deepEqual(skip.evidence, out.rejected.evidence)
  const { profile, statistics } = skip.evidence
  assert.match(path.basename(profile), /^leakwatch-\d{8}-\d{6}\.\d{3}-\d+-0-\d+-api\.pb\.gz$/)
  assert.match(path.basename(statistics), /^leakwatch-\d{8}-\d{6}\.\d{3}-\d+-0-\d+-api\.heapstats\.json$/)
  assert.match(skip.message, /; left .*\.pb\.gz and .*\.heapstats\.json instead$/)
  // Exactly these two files: no snapshot, nothing temporary.
  assert.deepEqual(out.files, [path.basename(profile), path.basename(statistics)].sort())

  // The profile: the table the process holds, by the function that built it.
  const p = Profile.decode(zlib.gunzipSync(fs.readFileSync(profile)))
  const str = (i) => p.stringTable.strings[Number(i)]
  const names = new Map(p.function.map((f) => [Number(f.id), str(f.name)]))
  const locs = new Map(p.location.map((l) => [Number(l.id), names.get(Number(l.line[0].functionId))]))
  let tableBytes = 0
  let total = 0
  for (const s of p.sample) {
    total += Number(s.value[1])
    if (s.locationId.some((id) => locs.get(Number(id)) === 'makeSessionTable')) tableBytes += Number(s.value[1])
  }
  assert.ok(tableBytes > 5 * 1024 * 1024, `makeSessionTable holds ${tableBytes} of ${total} bytes`)

  // The statistics: heap, every space, code, RSS, and malloc's figures where glibc has mallinfo2.
  const stats = JSON.parse(fs.readFileSync(statistics, 'utf8'))
  assert.equal(stats.trigger, 'api')
  assert.equal(stats.source, 'javascript')
  assert.ok(stats.heap.used_heap_size > 5 * 1024 * 1024)
  assert.ok(stats.spaces.some((s) => s.space_name === 'old_space' && s.space_used_size > 0), JSON.stringify(stats.spaces))
  assert.ok(stats.code.code_and_metadata_size > 0)
  assert.ok(stats.rss > stats.heap.used_heap_size)
  if (stats.malloc !== null) assert.ok(stats.malloc.inUse > 0, JSON.stringify(stats.malloc))
  assert.ok(fs.statSync(statistics).size < 16 * 1024, 'a few kB')
  fs.rmSync(dir, { recursive: true })
})

test('evidence files are pruned to maxFiles per kind, like snapshots', async () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'lw-evidence-prune-'))
  // Someone else's file of the same suffix is never removed.
  fs.writeFileSync(path.join(dir, 'other.pb.gz'), '')
  const r = await runFixture('evidence-prune.js', { args: [dir] })
  assert.equal(r.code, 0, r.stderr)
  const [out] = jsonLines(r)
  assert.equal(out.attempts, 4)
  const files = fs.readdirSync(dir).sort()
  assert.equal(files.filter((f) => f.endsWith('.heapstats.json')).length, 2, files.join(', '))
  assert.equal(files.filter((f) => /^leakwatch-.*\.pb\.gz$/.test(f)).length, 2, files.join(', '))
  assert.ok(files.includes('other.pb.gz'))
  // The newest are the ones kept.
  for (const kept of out.last) assert.ok(files.includes(path.basename(kept)), `${kept} in ${files.join(', ')}`)
  fs.rmSync(dir, { recursive: true })
})
