'use strict'

// The pprof files leakwatch writes, read back by an independent decoder (the npm package
// pprof-format, devDependency) and, where Go is installed, by `go tool pprof` itself: the
// leak's file holds exactly the samples behind the `leak` payload's `topAllocations`.

const test = require('node:test')
const assert = require('node:assert/strict')
const fs = require('node:fs')
const os = require('node:os')
const path = require('node:path')
const zlib = require('node:zlib')
const { spawnSync } = require('node:child_process')
const { Profile } = require('pprof-format')
const { runFixture, jsonLines, notChecked } = require('./helpers')

/** Decodes a .pb.gz into { types, period, samples: [{ frames, objects, bytes }] }. */
function decode(file) {
  const p = Profile.decode(zlib.gunzipSync(fs.readFileSync(file)))
  const str = (i) => p.stringTable.strings[Number(i)]
  const fns = new Map(p.function.map((f) => [Number(f.id), f]))
  const locs = new Map(p.location.map((l) => [Number(l.id), l]))
  const frame = (locId) => {
    const line = locs.get(Number(locId)).line[0]
    const fn = fns.get(Number(line.functionId))
    return { name: str(fn.name), file: str(fn.filename), line: Number(line.line) }
  }
  return {
    types: p.sampleType.map((t) => `${str(t.type)}/${str(t.unit)}`),
    periodType: `${str(p.periodType.type)}/${str(p.periodType.unit)}`,
    period: Number(p.period),
    samples: p.sample.map((s) => ({
      frames: s.locationId.map(frame),
      objects: Number(s.value[0]),
      bytes: Number(s.value[1]),
    })),
  }
}

/** `name (file:line:col)` of the payload's stack, without the column (pprof has none). */
const withoutColumn = (entry) => entry.replace(/:(\d+):\d+\)$/, ':$1)')

test("a leak's pprof file holds the samples behind its topAllocations; writeHeapProfile() the live ones", async () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'lw-pprof-'))
  const r = await runFixture('pprof-leak.js', { args: [dir], timeoutMs: 120_000 })
  assert.equal(r.code, 0, r.stderr)
  const [out] = jsonLines(r)
  assert.ok(!out.timedOut, JSON.stringify(out))
  assert.deepEqual(out.errors, [])
  const { leak, written } = out
  assert.equal(leak.attribution.status, 'ok')
  assert.equal(path.dirname(leak.profile), dir)
  assert.match(path.basename(leak.profile), /^leakwatch-\d{8}-\d{6}\.\d{3}-\d+-0-\d+-leak\.pb\.gz$/)

  const profile = decode(leak.profile)
  assert.deepEqual(profile.types, ['inuse_objects/count', 'inuse_space/bytes'])
  assert.equal(profile.periodType, 'space/bytes')
  assert.equal(profile.period, out.samplingIntervalBytes)
  // The largest stack of the file is the payload's first site: same bytes, same frames.
  const top = [...profile.samples].sort((a, b) => b.bytes - a.bytes)[0]
  const site = leak.topAllocations[0]
  assert.equal(top.bytes, site.bytes)
  assert.deepEqual(top.frames.map((f) => `${f.name} (${f.file}:${f.line})`), site.stack.map(withoutColumn))
  assert.ok(top.frames.some((f) => f.name === 'makeOrderBatch' && f.file.endsWith('pprof-leak.js')), JSON.stringify(top))
  assert.ok(top.objects >= 1)
  // Every site of the payload is a stack of the file with the same bytes.
  for (const s of leak.topAllocations) {
    const same = profile.samples.find((p) => p.frames.map((f) => `${f.name} (${f.file}:${f.line})`).join('|') === s.stack.map(withoutColumn).join('|'))
    assert.ok(same, `no stack for ${s.stack[0]}`)
    assert.equal(same.bytes, s.bytes)
  }

  // writeHeapProfile(): every live sample since the profiler started, the leak's included.
  assert.equal(out.rejected, undefined, JSON.stringify(out.rejected))
  assert.equal(path.dirname(written.path), dir)
  assert.match(path.basename(written.path), /-api\.pb\.gz$/)
  const live = decode(written.path)
  assert.equal(written.bytes, fs.statSync(written.path).size)
  assert.equal(written.liveBytes, live.samples.reduce((sum, s) => sum + s.bytes, 0))
  assert.equal(written.stacks, live.samples.length)
  assert.ok(written.liveBytes >= site.bytes, `${written.liveBytes} < ${site.bytes}`)
  // No temporary file left, mode 0600.
  assert.deepEqual(fs.readdirSync(dir).filter((f) => f.endsWith('.partial')), [])
  assert.equal(fs.statSync(leak.profile).mode & 0o777, 0o600)

  // The reference reader, when this machine has Go (CI need not).
  const go = spawnSync('go', ['tool', 'pprof', '-top', leak.profile], { encoding: 'utf8' })
  if (go.error) {
    fs.rmSync(dir, { recursive: true })
    return
  }
  assert.equal(go.status, 0, go.stderr)
  assert.match(go.stdout, /Type: inuse_space/)
  assert.match(go.stdout, /makeOrderBatch/)
  fs.rmSync(dir, { recursive: true })
})

test('go tool pprof reads the file', async (t) => {
  const go = spawnSync('go', ['version'], { encoding: 'utf8' })
  if (go.error) return notChecked(t, 'Go is not installed (go tool pprof -top)')
  // The same encoder on a profile of this process, straight from the inspector.
  const inspector = require('node:inspector')
  const { gzipProfile } = require('../lib/pprof')
  const session = new inspector.Session()
  session.connect()
  const post = (method, params) => new Promise((resolve, reject) =>
    session.post(method, params, (err, res) => (err ? reject(err) : resolve(res))))
  await post('HeapProfiler.startSampling', { samplingInterval: 16384 })
  const kept = Array.from({ length: 50_000 }, (_, i) => ({ i, name: `item-${i}` }))
  const { profile } = await post('HeapProfiler.getSamplingProfile')
  await post('HeapProfiler.stopSampling')
  session.disconnect()
  const file = path.join(os.tmpdir(), `lw-pprof-go-${process.pid}.pb.gz`)
  fs.writeFileSync(file, gzipProfile(profile, { samplingInterval: 16384 }))
  const top = spawnSync('go', ['tool', 'pprof', '-top', file], { encoding: 'utf8' })
  fs.rmSync(file)
  assert.equal(top.status, 0, top.stderr)
  assert.match(top.stdout, /Type: inuse_space/)
  assert.ok(kept.length > 0)
})

test('writeHeapProfile() says why it has no profile or cannot write it', async () => {
  const r = await runFixture('pprof-unavailable.js')
  assert.equal(r.code, 0, r.stderr)
  const [out] = jsonLines(r)
  assert.deepEqual(out, {
    noWatcher: { code: 'ERR_LEAKWATCH_PROFILE_UNAVAILABLE', reason: 'off' },
    attributionOff: { code: 'ERR_LEAKWATCH_PROFILE_UNAVAILABLE', reason: 'off' },
    idle: { code: 'ERR_LEAKWATCH_PROFILE_UNAVAILABLE', reason: 'idle' },
    badPath: { code: 'ERR_LEAKWATCH_INVALID_ARGUMENT' },
    missingDir: { code: 'ERR_LEAKWATCH_EVIDENCE_WRITE', errno: 'ENOENT' },
  })
})

test('the encoder: sample types, one location per frame leaf first, (root) left out', () => {
  const { encodeProfile } = require('../lib/pprof')
  const frame = (functionName, url, lineNumber) => ({ functionName, url, lineNumber, columnNumber: 0, scriptId: '0' })
  const profile = {
    head: {
      id: 1, callFrame: frame('(root)', '', -1), selfSize: 0,
      children: [{
        id: 2, callFrame: frame('handler', 'file:///app.js', 9), selfSize: 0,
        children: [{ id: 3, callFrame: frame('', 'file:///app.js', 19), selfSize: 0, children: [] }],
      }],
    },
    samples: [
      { nodeId: 3, size: 40_000, ordinal: 1 },
      { nodeId: 3, size: 40_000, ordinal: 5 },
      { nodeId: 2, size: 1_000_000, ordinal: 7 },
      { nodeId: 2, size: 999, ordinal: 2 }, // before sinceOrdinal: left out
    ],
  }
  const p = decode(writeTemp(zlib.gzipSync(encodeProfile(profile, { samplingInterval: 32768, sinceOrdinal: 2 }))))
  assert.equal(p.period, 32768)
  const byLeaf = Object.fromEntries(p.samples.map((s) => [s.frames[0].name, s]))
  assert.deepEqual(byLeaf['(anonymous)'].frames, [
    { name: '(anonymous)', file: 'file:///app.js', line: 20 }, { name: 'handler', file: 'file:///app.js', line: 10 },
  ])
  assert.equal(byLeaf['(anonymous)'].bytes, 40_000)
  assert.equal(byLeaf.handler.bytes, 1_000_000)
  // An object larger than the interval is sampled once per object (count 1).
  assert.equal(byLeaf.handler.objects, 1)
})

function writeTemp(data) {
  const file = path.join(os.tmpdir(), `lw-pprof-unit-${process.pid}.pb.gz`)
  fs.writeFileSync(file, data)
  process.on('exit', () => fs.rmSync(file, { force: true }))
  return file
}
