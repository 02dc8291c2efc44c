'use strict'

// Heap snapshots in child processes: triggers, guard, files, failures, workers.

const test = require('node:test')
const assert = require('node:assert/strict')
const fs = require('node:fs')
const os = require('node:os')
const path = require('node:path')
const { spawnSync } = require('node:child_process')
const { PKG, runScript, jsonLines } = require('./helpers')

function tempDir(tag) {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), `lw-snap-${tag}-`))
  fs.chmodSync(dir, 0o755)
  return dir
}

/** Names in `dir`, sorted. */
const listing = (dir) => fs.readdirSync(dir).sort()

/** A complete snapshot: parses as JSON and has the meta V8 writes first. */
function assertValidSnapshot(file) {
  const parsed = JSON.parse(fs.readFileSync(file, 'utf8'))
  assert.ok(parsed.snapshot && parsed.snapshot.meta && Array.isArray(parsed.snapshot.meta.node_fields),
    `${file} has snapshot.meta`)
  assert.ok(parsed.nodes.length > 0 && parsed.strings.length > 0)
  return parsed
}

const NAME = /^leakwatch-\d{8}-\d{6}\.\d{3}-\d+-\d+-\d+-[a-z-]+\.heapsnapshot$/

// A fast heap leak reported within a few seconds (forced GCs, short warm-up).
const LEAKY = (snapshot, extra = '') => `
  const leakwatch = require(${PKG})
  const w = leakwatch.start({
    sampleIntervalMs: 100,
    attribution: false,
    detection: { warmupMs: 1000, windowMs: 30000, minPoints: 4, rss: false, rearmRatio: 0.05 },
    snapshot: ${snapshot},
  })
  const events = []
  for (const e of ['leak', 'snapshot', 'snapshot-skipped', 'error']) {
    w.on(e, (p) => events.push({ event: e, reason: p.reason, trigger: p.trigger, path: p.path, code: p.code }))
  }
  const retained = []
  const timer = setInterval(() => {
    retained.push(Array.from({ length: 20000 }, (_, i) => ({ i, tag: 'req-' + i })))
    leakwatch.gc()
    if (events.filter((e) => e.event === 'leak').length >= 2 || retained.length > 120) {
      clearInterval(timer)
      setTimeout(() => { console.log(JSON.stringify(events)); w.stop() }, 300)
    }
  }, 150)
  ${extra}
`

test('a leak with onLeak writes one valid snapshot; a second leak within the cooldown is skipped; maxFiles prunes', async () => {
  const dir = tempDir('leak')
  // Older leakwatch dumps of other processes, and a file that is not ours.
  const old = [
    'leakwatch-20200101-000000.000-1-0-0-leak.heapsnapshot',
    'leakwatch-20200102-000000.000-1-0-1-leak.heapsnapshot',
  ]
  for (const name of old) fs.writeFileSync(path.join(dir, name), '{}')
  fs.writeFileSync(path.join(dir, 'notes.heapsnapshot'), '{}')
  const r = await runScript(LEAKY(`{ dir: ${JSON.stringify(dir)}, cooldownMs: 600000, maxFiles: 2 }`))
  assert.equal(r.code, 0, r.stderr)
  const [events] = jsonLines(r)
  const leaks = events.filter((e) => e.event === 'leak')
  const written = events.filter((e) => e.event === 'snapshot')
  const skipped = events.filter((e) => e.event === 'snapshot-skipped')
  assert.ok(leaks.length >= 2, JSON.stringify(events))
  assert.equal(written.length, 1, JSON.stringify(events))
  assert.equal(written[0].reason, 'leak')
  assert.deepEqual(skipped.map((s) => [s.reason, s.trigger]), [['cooldown', 'leak']])
  const files = listing(dir)
  // maxFiles 2: the new dump and the newest old one remain; other files are untouched.
  const ours = files.filter((f) => NAME.test(f))
  assert.deepEqual(ours, [old[1], path.basename(written[0].path)], files.join(', '))
  assert.ok(files.includes('notes.heapsnapshot'))
  assert.ok(!files.some((f) => f.endsWith('.partial')))
  const stat = fs.statSync(written[0].path)
  assert.equal(stat.mode & 0o777, 0o600)
  assert.match(path.basename(written[0].path), /-\d+-0-\d+-leak\.heapsnapshot$/)
  assertValidSnapshot(written[0].path)
  fs.rmSync(dir, { recursive: true })
})

test('writeSnapshot: a file or a directory; maxFiles counts the dumps of the directory', async () => {
  const dir = tempDir('api')
  const r = await runScript(`
    const leakwatch = require(${PKG})
    const w = leakwatch.start({ snapshot: { dir: ${JSON.stringify(dir)}, onLeak: false, maxFiles: 2 } })
    const seen = []
    w.on('snapshot', (s) => seen.push(s.reason))
    ;(async () => {
      const infos = []
      for (let i = 0; i < 3; i++) infos.push(await leakwatch.writeSnapshot())
      const exact = await leakwatch.writeSnapshot(${JSON.stringify(path.join(dir, 'exact.heapsnapshot'))})
      console.log(JSON.stringify({ infos, exact, seen }))
      w.stop()
    })()
  `)
  assert.equal(r.code, 0, r.stderr)
  const [out] = jsonLines(r)
  for (const info of out.infos) {
    assert.equal(info.reason, 'api')
    assert.ok(info.bytes > 1000 && info.durationMs > 0, JSON.stringify(info))
    assert.ok(info.estimate.memoryBytes > 0 && info.estimate.fileBytes >= info.bytes / 4)
  }
  assert.deepEqual(out.seen, ['api', 'api', 'api', 'api'])
  assert.equal(out.exact.path, path.join(dir, 'exact.heapsnapshot'))
  const files = listing(dir)
  assert.deepEqual(files, [...out.infos.slice(1).map((i) => path.basename(i.path)), 'exact.heapsnapshot'].sort())
  assertValidSnapshot(out.exact.path)
  fs.rmSync(dir, { recursive: true })
})

test('nearHeapLimit: a process that leaks until it dies leaves one complete snapshot', async () => {
  const dir = tempDir('oom')
  const r = await runScript(`
    const leakwatch = require(${PKG})
    leakwatch.start({ attribution: false, detection: { mode: 'off' },
      snapshot: { dir: ${JSON.stringify(dir)}, onLeak: false, nearHeapLimit: true, minFreeDiskBytes: 0 } })
    const retained = []
    setInterval(() => {
      for (let i = 0; i < 2000; i++) retained.push({ i, s: 'row-' + i + '-' + retained.length })
    }, 1)
  `, { nodeArgs: ['--max-old-space-size=64'], timeoutMs: 120_000 })
  assert.notEqual(r.code, 0, 'the process runs out of memory')
  assert.match(r.stderr, /leakwatch: the JS heap is near its limit \(\d+ MB\); wrote heap snapshot .*near-heap-limit\.heapsnapshot/)
  const files = listing(dir)
  assert.equal(files.length, 1, files.join(', '))
  assert.match(files[0], NAME)
  assert.match(files[0], /-near-heap-limit\.heapsnapshot$/)
  const parsed = assertValidSnapshot(path.join(dir, files[0]))
  assert.ok(parsed.snapshot.node_count > 100_000, `node_count ${parsed.snapshot.node_count}`)
  fs.rmSync(dir, { recursive: true })
})

test('a memory budget too small: snapshot-skipped with need and have, and no file', async () => {
  const dir = tempDir('budget')
  const r = await runScript(`
    const leakwatch = require(${PKG})
    const budget = process.memoryUsage().rss + 20 * 1024 * 1024
    const w = leakwatch.start({ snapshot: { dir: ${JSON.stringify(dir)}, memoryLimitBytes: budget, signal: 'SIGUSR2' } })
    const held = Array.from({ length: 200000 }, (_, i) => ({ i }))
    const out = { skipped: [] }
    w.on('snapshot-skipped', (s) => out.skipped.push(s))
    w.on('snapshot', (s) => { out.written = s })
    process.kill(process.pid, 'SIGUSR2')
    setTimeout(async () => {
      try { await leakwatch.writeSnapshot() } catch (err) { out.rejected = { code: err.code, reason: err.reason, message: err.message } }
      out.held = held.length
      console.log(JSON.stringify(out))
      w.stop()
    }, 500)
  `)
  assert.equal(r.code, 0, r.stderr)
  const [out] = jsonLines(r)
  assert.equal(out.written, undefined)
  assert.equal(out.skipped.length, 2, JSON.stringify(out))
  for (const [s, trigger] of [[out.skipped[0], 'signal'], [out.skipped[1], 'api']]) {
    assert.equal(s.reason, 'memory')
    assert.equal(s.trigger, trigger)
    assert.equal(s.bound, 'memoryLimitBytes')
    assert.ok(s.needBytes > s.haveBytes && s.haveBytes <= 20 * 1024 * 1024, JSON.stringify(s))
    assert.match(s.message, /needs \d+ MB of memory/)
  }
  assert.equal(out.rejected.code, 'ERR_LEAKWATCH_SNAPSHOT_SKIPPED')
  assert.equal(out.rejected.reason, 'memory')
  assert.deepEqual(listing(dir), [])
  fs.rmSync(dir, { recursive: true })
})

test('a dump bigger than estimated is abandoned at the RSS ceiling, leaving no file', async () => {
  const dir = tempDir('ceiling')
  // The first dump, of large number arrays (few objects per byte), teaches the guard a low
  // ratio. The heap then fills with small objects (many per byte): the learned estimate fits
  // a budget the real dump does not, and the ceiling stops it.
  const r = await runScript(`
    const leakwatch = require(${PKG})
    const dir = ${JSON.stringify(dir)}
    ;(async () => {
      const out = {}
      let held = Array.from({ length: 12000 }, (_, i) => Array.from({ length: 4096 }, (_, k) => (i + k) & 0xffff))
      leakwatch.gc()
      let w = leakwatch.start({ snapshot: { dir, onLeak: false } })
      out.first = await leakwatch.writeSnapshot()
      w.stop()
      held = Array.from({ length: 400000 }, (_, i) => ({ a: i, b: { c: i } }))
      leakwatch.gc()
      w = leakwatch.start({ snapshot: { dir, onLeak: false, memoryLimitBytes: process.memoryUsage().rss + 60 * 1024 * 1024 } })
      w.on('snapshot-skipped', (s) => { out.skipped = s })
      try { out.second = await leakwatch.writeSnapshot() } catch (err) { out.code = err.code }
      out.files = require('node:fs').readdirSync(dir)
      out.held = held.length
      console.log(JSON.stringify(out))
      w.stop()
    })()
  `)
  assert.equal(r.code, 0, r.stderr)
  const [out] = jsonLines(r)
  assert.equal(out.second, undefined, JSON.stringify(out))
  assert.equal(out.code, 'ERR_LEAKWATCH_SNAPSHOT_SKIPPED')
  assert.equal(out.skipped.reason, 'memory')
  assert.equal(out.skipped.aborted, true)
  assert.equal(out.skipped.bound, 'ceiling')
  assert.match(out.skipped.message, /abandoned as RSS approached the limit/)
  assert.deepEqual(out.files, [path.basename(out.first.path)])
  fs.rmSync(dir, { recursive: true })
})

const isRoot = typeof process.getuid === 'function' && process.getuid() === 0
const canSetpriv = isRoot && spawnSync('setpriv', ['--version']).status === 0

test('an unwritable dir: error event with a code while the server keeps answering', async (t) => {
  const dir = tempDir('ro')
  // Root writes anywhere: run the child as nobody on a root-owned 0755 directory.
  let prefix = []
  if (isRoot) {
    if (!canSetpriv) return t.skip('running as root without setpriv to drop privileges')
    prefix = ['setpriv', '--reuid=65534', '--regid=65534', '--clear-groups']
  } else {
    fs.chmodSync(dir, 0o555)
  }
  const r = await runScript(`
    const http = require('node:http')
    const leakwatch = require(${PKG})
    const w = leakwatch.start({ snapshot: { dir: ${JSON.stringify(dir)}, rssBytes: 1, cooldownMs: 0 } })
    const out = { statuses: [], errors: [] }
    const server = http.createServer((req, res) => res.end('ok')).listen(0, '127.0.0.1', async () => {
      const url = 'http://127.0.0.1:' + server.address().port + '/'
      const get = () => new Promise((resolve, reject) => http.get(url, (res) => { res.resume(); res.on('end', () => resolve(res.statusCode)) }).on('error', reject))
      out.statuses.push(await get())
      w.on('error', async (err) => {
        out.errors.push({ code: err.code, errno: err.errno, syscall: err.syscall, trigger: err.trigger, message: err.message })
        if (out.errors.length > 1) return
        for (let i = 0; i < 3; i++) out.statuses.push(await get())
        console.log(JSON.stringify(out))
        server.close()
        w.stop()
      })
      leakwatch.gc()
    })
  `, { prefix })
  assert.equal(r.code, 0, r.stderr)
  const [out] = jsonLines(r)
  assert.deepEqual(out.statuses, [200, 200, 200, 200])
  const [err] = out.errors
  assert.equal(err.code, 'ERR_LEAKWATCH_SNAPSHOT_WRITE')
  assert.equal(err.errno, 'EACCES')
  assert.equal(err.syscall, 'open')
  assert.equal(err.trigger, 'rss')
  assert.match(err.message, /cannot write the heap snapshot: open .*\.partial/)
  assert.deepEqual(listing(dir), [])
  fs.rmSync(dir, { recursive: true })
})

const canUnshare = spawnSync('unshare', ['-rm', 'true']).status === 0

test('a disk that fills up during the dump: ENOSPC error and no partial file', async (t) => {
  if (!canUnshare) return t.skip('no user+mount namespaces here (unshare -rm); cargo test covers ENOSPC with /dev/full')
  const dir = tempDir('full')
  // A 96 MiB tmpfs in a private mount namespace. The guard sees room for the ~20 MB file; a
  // worker thread then fills the disk as soon as the dump's temporary file appears.
  const prefix = ['unshare', '-rm', 'sh', '-c', 'mount -t tmpfs -o size=96m tmpfs "$0" && exec "$@"', dir]
  const r = await runScript(`
    const fs = require('node:fs')
    const { Worker } = require('node:worker_threads')
    const leakwatch = require(${PKG})
    const dir = ${JSON.stringify(dir)}
    leakwatch.start({ snapshot: { dir, minFreeDiskBytes: 0 } })
    const held = Array.from({ length: 150000 }, (_, i) => ({ i, s: 'value-' + i }))
    const filler = new Worker(\`
      const fs = require('node:fs')
      const dir = \${JSON.stringify(dir)}
      const { parentPort } = require('node:worker_threads')
      parentPort.postMessage('ready')
      while (!fs.readdirSync(dir).some((f) => f.endsWith('.partial'))) {}
      const fd = fs.openSync(dir + '/filler', 'w')
      const block = Buffer.alloc(1 << 20, 120)
      try { for (;;) fs.writeSync(fd, block) } catch (err) { parentPort.postMessage(err.code) }
    \`, { eval: true })
    filler.once('message', () => {
      leakwatch.writeSnapshot(dir).then(
        (info) => console.log(JSON.stringify({ written: info })),
        (err) => console.log(JSON.stringify({ code: err.code, errno: err.errno, syscall: err.syscall, message: err.message, files: fs.readdirSync(dir) })))
        .finally(() => { filler.terminate(); leakwatch.stop() })
    })
  `, { prefix, timeoutMs: 60_000 })
  assert.equal(r.code, 0, r.stderr)
  const [out] = jsonLines(r)
  assert.equal(out.written, undefined, JSON.stringify(out))
  assert.equal(out.code, 'ERR_LEAKWATCH_SNAPSHOT_WRITE', out.message)
  assert.equal(out.errno, 'ENOSPC')
  assert.equal(out.syscall, 'write')
  assert.deepEqual(out.files, ['filler'])
  fs.rmSync(dir, { recursive: true })
})

test('a dump in a worker captures the worker; the signal trigger dumps the main thread', async () => {
  const dir = tempDir('worker')
  const r = await runScript(`
    const { Worker } = require('node:worker_threads')
    const leakwatch = require(${PKG})
    const w = leakwatch.start({ snapshot: { dir: ${JSON.stringify(dir)}, signal: 'SIGUSR2', onLeak: false } })
    class MainThreadOnlyThing { constructor(i) { this.i = i } }
    globalThis.mainHeld = Array.from({ length: 1000 }, (_, i) => new MainThreadOnlyThing(i))
    const out = {}
    const alive = setInterval(() => {}, 1000)
    w.on('snapshot', (s) => {
      out.main = s
      const worker = new Worker(\`
        const leakwatch = require(${PKG.replace(/\\/g, '\\\\')})
        class WorkerOnlyThing { constructor(i) { this.i = i } }
        globalThis.workerHeld = Array.from({ length: 1000 }, (_, i) => new WorkerOnlyThing(i))
        leakwatch.writeSnapshot(\${JSON.stringify(${JSON.stringify(dir)})}).then((info) => require('node:worker_threads').parentPort.postMessage(info))
      \`, { eval: true })
      worker.once('message', (info) => {
        out.worker = info
        out.workerThreadId = worker.threadId
        console.log(JSON.stringify(out))
        w.stop()
        clearInterval(alive)
      })
    })
    process.kill(process.pid, 'SIGUSR2')
  `)
  assert.equal(r.code, 0, r.stderr)
  const [out] = jsonLines(r)
  assert.equal(out.main.reason, 'signal')
  assert.match(path.basename(out.main.path), /-\d+-0-\d+-signal\.heapsnapshot$/)
  assert.match(path.basename(out.worker.path), new RegExp(`-\\d+-${out.workerThreadId}-\\d+-api\\.heapsnapshot$`))
  const mainStrings = new Set(assertValidSnapshot(out.main.path).strings)
  const workerStrings = new Set(assertValidSnapshot(out.worker.path).strings)
  assert.ok(mainStrings.has('MainThreadOnlyThing') && !mainStrings.has('WorkerOnlyThing'))
  assert.ok(workerStrings.has('WorkerOnlyThing') && !workerStrings.has('MainThreadOnlyThing'))
  fs.rmSync(dir, { recursive: true })
})
