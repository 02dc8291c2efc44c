'use strict'

// The faults a production host sees, each in its own child process (an HTTP server with a
// watcher, fixtures/scripts/faults-host.js): out of file descriptors, a full disk, a directory
// it may not write, a read-only filesystem, the dump directory deleted, SIGTERM during a dump,
// a worker terminated during its dump, listeners that throw on every event. Each checks what
// applies of: the process keeps serving, the failure arrives as an `error` event with a stable
// code (never a throw into the host), no partial file is left, and nothing leaks where it can
// be counted (file descriptors, threads). Out of descriptors while stats are delivered is in
// lifecycle.test.js.

const test = require('node:test')
const assert = require('node:assert/strict')
const fs = require('node:fs')
const os = require('node:os')
const path = require('node:path')
const { spawnSync } = require('node:child_process')
const { runFixture, jsonLines, notChecked } = require('./helpers')

function tempDir(tag) {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), `lw-fault-${tag}-`))
  fs.chmodSync(dir, 0o755)
  return dir
}

const isRoot = typeof process.getuid === 'function' && process.getuid() === 0
const TIMEOUT = 120_000

/** Runs faults-host.js through `fault` on `dir`; returns its report and the run. */
async function host(fault, dir, options = {}) {
  const r = await runFixture('faults-host.js', { args: [fault, dir], timeoutMs: TIMEOUT, ...options })
  const reports = jsonLines(r).filter((o) => o.fault === fault)
  return { r, out: reports[0] }
}

/**
 * The dump failed with an `error` event of code ERR_LEAKWATCH_SNAPSHOT_WRITE naming `errno`
 * and `syscall`, the server kept answering, no partial file, no descriptor left open.
 */
function assertWriteFault({ r, out }, { errno, syscall, outcome = 0 }) {
  assert.equal(r.signal, null, r.stderr)
  assert.equal(r.code, 0, r.stderr)
  assert.ok(out, r.stdout)
  const failed = out.outcomes[outcome]
  assert.equal(failed.event, 'error', JSON.stringify(out.outcomes))
  assert.equal(failed.code, 'ERR_LEAKWATCH_SNAPSHOT_WRITE')
  assert.equal(failed.errno, errno, failed.message)
  assert.match(failed.syscall, new RegExp(`^(${syscall})$`), failed.message)
  assert.equal(failed.trigger, 'signal')
  assert.match(failed.message, /^leakwatch: cannot write the heap snapshot: /)
  assert.ok(out.statuses.length >= 2 && out.statuses.every((s) => s === 200), `statuses ${out.statuses}`)
  assert.ok(Array.isArray(out.files), `the directory is listed: ${out.files}`)
  assert.deepEqual(out.files.filter((f) => f.endsWith('.partial')), [], 'no partial file')
  assert.ok(out.fdsAfter <= out.fdsBefore, `descriptors ${out.fdsBefore} before, ${out.fdsAfter} after`)
}

/** The last dump of the run was written: the fault is over and dumps work again. */
function assertRecovered({ out }) {
  const last = out.outcomes.at(-1)
  assert.equal(last.event, 'snapshot', JSON.stringify(out.outcomes))
  assert.deepEqual(out.files, [path.basename(last.path)])
}

// A private mount namespace for a tmpfs: util-linux's `unshare` and `mount`, and user
// namespaces the kernel allows (-r also works as root).
const unshare = spawnSync('unshare', ['-rm', 'sh', '-c', 'command -v mount >/dev/null || exit 3'])
const noNamespace = unshare.status === 0 ? null
  : unshare.error ? '`unshare` (util-linux) is not on PATH'
    : unshare.status === 3 ? '`mount` (util-linux) is not on PATH'
      : `unshare -rm failed (${String(unshare.stderr).trim() || unshare.status}): no user+mount namespaces here`
/** Runs the child with a tmpfs mounted on `dir` (mount options `options`), seen by it alone. */
const onTmpfs = (dir, options) => ['unshare', '-rm', 'sh', '-c', `mount -t tmpfs -o ${options} tmpfs "$0" && exec "$@"`, dir]

test('EMFILE: out of descriptors, the dump fails with a code, timers run, then dumps work again', async () => {
  const dir = tempDir('emfile')
  const run = await host('emfile', dir, { prefix: ['sh', '-c', 'ulimit -n 128 && exec "$0" "$@"'] })
  assertWriteFault(run, { errno: 'EMFILE', syscall: 'open' })
  const { out } = run
  // Until the descriptors are back the server cannot accept, but the process runs: its timers
  // fire and its other events are delivered.
  assert.ok(out.ticksDuringFault > 0, `ticks during the fault: ${out.ticksDuringFault}`)
  const codes = new Set(out.errors.map((e) => e.code))
  codes.delete('ERR_LEAKWATCH_MEMORY_USAGE') // stats delivered while out of descriptors
  assert.deepEqual([...codes], ['ERR_LEAKWATCH_SNAPSHOT_WRITE'])
  assertRecovered(run)
  assert.deepEqual(fs.readdirSync(dir), out.files)
  fs.rmSync(dir, { recursive: true })
})

test('ENOSPC: the disk fills up during the dump; no partial file; written again once there is room', async (t) => {
  if (noNamespace) {
    return notChecked(t, `a disk filling up during a real dump: ${noNamespace}; cargo test covers ENOSPC with /dev/full`)
  }
  // A 96 MiB tmpfs: the guard sees room for the ~30 MB file, then a helper thread fills the
  // disk as soon as the dump's temporary file appears.
  const dir = tempDir('enospc')
  const run = await host('enospc', dir, { prefix: onTmpfs(dir, 'size=96m') })
  assertWriteFault(run, { errno: 'ENOSPC', syscall: 'write' })
  assertRecovered(run)
  fs.rmSync(dir, { recursive: true })
})

test('EACCES: a dump directory it may not write', async () => {
  const dir = tempDir('eacces')
  // Root writes anywhere: the child becomes nobody (Node's process.setuid) once started, on a
  // root-owned 0755 directory.
  const env = {}
  if (isRoot) env.LEAKWATCH_TEST_AS_NOBODY = '1'
  else fs.chmodSync(dir, 0o555)
  const run = await host('eacces', dir, { env })
  assertWriteFault(run, { errno: 'EACCES', syscall: 'open' })
  assert.match(run.out.outcomes[0].message, /open .*\.partial: Permission denied/)
  assert.deepEqual(fs.readdirSync(dir), [])
  fs.rmSync(dir, { recursive: true })
})

test('EROFS: a dump directory on a read-only filesystem', async (t) => {
  if (noNamespace) return notChecked(t, `a read-only filesystem (a tmpfs mounted ro): ${noNamespace}`)
  // Root ignores permissions but not a read-only mount. 256 MiB so that the guard sees room.
  const dir = tempDir('erofs')
  const run = await host('erofs', dir, { prefix: onTmpfs(dir, 'ro,size=256m') })
  assertWriteFault(run, { errno: 'EROFS', syscall: 'open' })
  assert.deepEqual(run.out.files, [])
  fs.rmSync(dir, { recursive: true })
})

test('the dump directory deleted between dumps and during one; dumps work again once it is back', async () => {
  const dir = tempDir('deleted')
  const run = await host('dir-deleted', dir)
  // Gone before the dump: its file cannot be created.
  assertWriteFault(run, { errno: 'ENOENT', syscall: 'open' })
  // Removed while the dump was written (or, on a slow start, just before): the rename, or the
  // open, fails; the unlinked temporary file goes with the dump.
  assertWriteFault(run, { errno: 'ENOENT', syscall: 'rename|open', outcome: 1 })
  assertRecovered(run)
  assert.equal(run.out.errors.length, 2)
  fs.rmSync(dir, { recursive: true })
})

test('SIGTERM during a dump, no handler: the process ends at once; the next dump there removes its partial file once stale', async () => {
  const dir = tempDir('sigterm')
  const killed = await host('sigterm', dir)
  assert.equal(killed.r.signal, 'SIGTERM', `${killed.r.code} ${killed.r.stderr}`)
  assert.deepEqual(jsonLines(killed.r), [{ dumping: true }])
  // A killed process cannot clean up: its temporary file stays, under a dot-name that is never
  // taken for a snapshot. Another process removes it once its writer is gone and it has been
  // untouched for a minute (here: made a minute old).
  const left = fs.readdirSync(dir)
  assert.equal(left.length, 1, left.join(', '))
  assert.match(left[0], /^\.leakwatch-.*-signal\.heapsnapshot\.partial$/)
  const old = new Date(Date.now() - 120_000)
  fs.utimesSync(path.join(dir, left[0]), old, old)
  const next = await host('stale-partial', dir)
  assert.equal(next.r.code, 0, next.r.stderr)
  assertRecovered(next)
  assert.deepEqual(fs.readdirSync(dir), next.out.files)
  fs.rmSync(dir, { recursive: true })
})

test('SIGTERM during a dump, handled: the handler runs after the dump, which completes', async () => {
  const dir = tempDir('sigterm-handled')
  const { r, out } = await host('sigterm-handled', dir)
  assert.equal(r.signal, null, r.stderr)
  assert.equal(r.code, 0, r.stderr)
  // The dump blocks the thread; the application's SIGTERM handler runs next, as after any
  // blocking call, and shuts the server down gracefully.
  assert.deepEqual(out.order, ['snapshot', 'SIGTERM'])
  assert.deepEqual(out.errors, [])
  assert.deepEqual(out.files, [path.basename(out.outcomes[0].path)])
  assert.deepEqual(out.statuses, [200])
  fs.rmSync(dir, { recursive: true })
})

test('workers terminated during their dumps: no partial file, every file complete, threads and descriptors back', async () => {
  const dir = tempDir('worker')
  const { r, out } = await host('worker-terminated', dir)
  assert.equal(r.signal, null, r.stderr)
  assert.equal(r.code, 0, r.stderr)
  assert.deepEqual(out.exitCodes, [1, 1, 1, 1], 'terminated')
  assert.ok(out.statuses.every((s) => s === 200) && out.statuses.length === 6, `statuses ${out.statuses}`)
  // V8 does not interrupt a heap snapshot: terminate() takes effect when the dump ends, so the
  // dump completes (and is renamed) or never started.
  assert.deepEqual(out.workerFiles.filter((f) => f.endsWith('.partial')), [])
  for (const file of out.workerFiles) {
    const parsed = JSON.parse(fs.readFileSync(path.join(dir, 'workers', file), 'utf8'))
    assert.ok(parsed.snapshot.node_count > 100_000, `${file}: node_count ${parsed.snapshot.node_count}`)
  }
  // Each worker's watcher thread was joined and its files closed.
  assert.equal(out.threadsAfter, out.threadsBefore)
  assert.ok(out.fdsAfter <= out.fdsBefore, `descriptors ${out.fdsBefore} before, ${out.fdsAfter} after`)
  assert.deepEqual(out.errors, [])
  fs.rmSync(dir, { recursive: true })
})

test('listeners that throw on every event: each throw reaches uncaughtException once, leakwatch carries on', async () => {
  const dir = tempDir('throwing')
  const r = await runFixture('faults-throwing-listeners.js', { args: [dir], nodeArgs: ['--expose-gc'], timeoutMs: TIMEOUT })
  assert.equal(r.signal, null, r.stderr)
  assert.equal(r.code, 0, r.stderr)
  const [out] = jsonLines(r)
  // Every event kind was delivered, to the watcher and to the module, and every throw
  // surfaced exactly once, in the application's handler.
  for (const event of ['stats', 'leak', 'snapshot', 'snapshot-skipped', 'error']) {
    assert.ok(out.thrown[event] >= 2, `${event}: ${JSON.stringify(out.thrown)}`)
  }
  const total = Object.values(out.thrown).reduce((a, b) => a + b, 0)
  assert.equal(out.reached.length, total)
  assert.equal(new Set(out.reached).size, total)
  // leakwatch's own work went on behind the throwing listeners: the dump after the first
  // stats event, stats after the throws, the failed dump reported with its code, not as an
  // internal error.
  assert.match(path.basename(out.written), /-rss\.heapsnapshot$/)
  assert.ok(out.statsAfter >= 2, `stats after the rest: ${out.statsAfter}`)
  assert.deepEqual(out.codes, ['ERR_LEAKWATCH_SNAPSHOT_WRITE'])
  assert.deepEqual(out.statuses, [200, 200])
  fs.rmSync(dir, { recursive: true, force: true })
})
