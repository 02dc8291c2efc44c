'use strict'

// Diagnosis end to end: a leaking HTTP server (fixtures/scripts/diagnose-server.js) with
// `diagnose` on, in its own process, under real HTTP load from this one. The `leak` must be
// followed by a `leak-report` with the same id whose first growth group names the leaking
// container and what holds it, with the snapshots and reports on disk, while the server keeps
// answering (the longest request time is printed: that is the dumps' pause).

const { describe, test } = require('node:test')
const assert = require('node:assert/strict')
const { spawn } = require('node:child_process')
const fs = require('node:fs')
const os = require('node:os')
const path = require('node:path')
const http = require('node:http')
const { execFileSync } = require('node:child_process')

const SERVER = path.join(__dirname, 'fixtures', 'scripts', 'diagnose-server.js')

/**
 * Starts the server, loads it at `rate` requests/s until `until(events)` or `capMs`, and
 * returns its events and the load's figures.
 */
function serve(workload, { rate = 300, capMs = 270_000, options, until = (ev) => ev.some((e) => e.event === 'leak-report'), kill = 'SIGTERM' } = {}) {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), `leakwatch-diagnose-${workload}-`))
  const args = [SERVER, workload, dir]
  if (options) args.push(JSON.stringify(options))
  const child = spawn(process.execPath, args, { stdio: ['ignore', 'pipe', 'pipe'] })
  const events = []
  let stderr = ''
  let buffered = ''
  child.stderr.on('data', (d) => { stderr += d })
  return new Promise((resolve, reject) => {
    let loadTimer = null
    const agent = new http.Agent({ keepAlive: true, maxSockets: 8 })
    const load = { sent: 0, answered: 0, failed: 0, longestMs: 0, answeredDuringDiagnosis: 0 }
    let diagnosing = false
    let finished = false
    const finish = () => {
      finished = true
      clearInterval(loadTimer)
      clearTimeout(cap)
      agent.destroy()
      child.kill(kill)
    }
    const cap = setTimeout(finish, capMs)
    child.stdout.on('data', (d) => {
      buffered += d
      const lines = buffered.split('\n')
      buffered = lines.pop()
      for (const line of lines) {
        const ev = JSON.parse(line)
        events.push(ev)
        if (ev.event === 'listening') {
          const n = rate / 20
          loadTimer = setInterval(() => {
            for (let i = 0; i < n; i++) {
              const sent = ++load.sent
              const t0 = process.hrtime.bigint()
              http.get({ host: '127.0.0.1', port: ev.port, agent, path: `/api/orders/${sent}?customer=${sent % 211}`, headers: { 'x-user': `u${sent % 50}` } }, (res) => {
                res.resume()
                res.on('end', () => {
                  const ms = Number(process.hrtime.bigint() - t0) / 1e6
                  load.answered++
                  if (diagnosing) load.answeredDuringDiagnosis++
                  load.longestMs = Math.max(load.longestMs, ms)
                })
              }).on('error', () => {
                // Requests cut off when the test ends the server do not count.
                if (!finished) load.failed++
              })
            }
          }, 50)
        }
        if (ev.event === 'leak' && ev.diagnosis === 'started') diagnosing = true
        if (ev.event === 'leak-report') diagnosing = false
        if (until(events)) finish()
      }
    })
    child.on('error', reject)
    child.on('close', (code, signal) => {
      finish()
      resolve({ code, signal, events, stderr, load, dir })
    })
  })
}

// Each workload: what the first group must name (`reference`: the name in the code through
// which the container is held; `container`: its class; `holder`: what holds that name).
const CASES = [
  { workload: 'map', reference: 'contextsByRequest', container: 'Map', name: /ReportContext/ },
  { workload: 'listeners', reference: 'config-changed', container: 'Array', holder: /EventEmitter\._events/ },
  { workload: 'closures', reference: 'retryQueue', container: 'Array' },
  { workload: 'cache', reference: 'responseCache', container: 'Object' },
  { workload: 'prom-client', reference: 'hashMap', holder: /Histogram/, rate: 600 },
]

describe('diagnose: leak → leak-report naming the container and its holder', { concurrency: 2 }, () => {
  for (const c of CASES) {
    test(c.workload, { timeout: 330_000 }, async (t) => {
      const { events, stderr, load, dir } = await serve(c.workload, { rate: c.rate })
      try {
        const errors = events.filter((e) => e.event === 'error')
        assert.deepEqual(errors, [], stderr)
        const leak = events.find((e) => e.event === 'leak')
        assert.ok(leak, `no leak: ${stderr}`)
        assert.equal(leak.metric, 'heap')
        assert.equal(leak.diagnosis, 'started')
        assert.match(leak.id, /^leak-\d+-0-\d+$/)
        const report = events.find((e) => e.event === 'leak-report')
        assert.ok(report, `no leak-report: ${JSON.stringify(events.filter((e) => e.event !== 'listening'))}`)
        assert.equal(report.status, 'complete', report.message)
        assert.equal(report.leakId, leak.id)
        assert.equal(report.snapshots.length, 3)
        assert.equal(report.growthBasis, 'new-in-second-alive-in-third')
        for (const file of [...report.files.snapshots, report.files.json, report.files.html]) {
          assert.ok(fs.statSync(file).size > 0, file)
        }
        assert.deepEqual(fs.readdirSync(report.files.dir).filter((f) => f.endsWith('.tmp')), [])
        const first = report.groups[0]
        t.diagnostic(`${c.workload}: ${report.message}`)
        t.diagnostic(`${c.workload}: ${first.line}`)
        assert.equal(first.reference, c.reference, first.line)
        if (c.container) assert.equal(first.container, c.container, first.line)
        if (c.holder) assert.match(first.holder, c.holder, first.line)
        if (c.name) assert.match(first.name, c.name, first.line)
        assert.ok(first.retainedSize > 0 && first.count > 0)
        assert.ok(report.classes.length > 0 && report.classes[0].sizeDelta > 0)
        assert.ok(report.message.includes(c.reference), report.message)
        // Allocation sites sampled between the first two dumps.
        assert.equal(report.attribution.status, 'ok')
        assert.ok(report.topAllocations.length > 0)
        // The analysis ran in its own process, within the room it was checked against.
        assert.ok(report.analysis.peakRssBytes > 0 && report.analysis.needBytes > 0)
        // The server answered throughout: requests completed while the diagnosis ran, none failed.
        assert.equal(load.failed, 0)
        assert.ok(load.answeredDuringDiagnosis > 0)
        t.diagnostic(`${c.workload}: ${load.answered} requests answered, ${load.answeredDuringDiagnosis} during ` +
          `the diagnosis; longest ${Math.round(load.longestMs)} ms (dumps: ` +
          `${report.snapshots.map((s) => Math.round(s.durationMs)).join(', ')} ms; analysis ` +
          `${report.analysis.durationMs} ms in its own process, peak ${Math.round(report.analysis.peakRssBytes / 1048576)} MiB)`)
      } finally {
        fs.rmSync(dir, { recursive: true, force: true })
      }
    })
  }
})

/** Pids of analysis processes working in `dir`. */
function analysesIn(dir) {
  return execFileSync('ps', ['-eo', 'pid=,args='], { encoding: 'utf8' }).split('\n')
    .filter((line) => line.includes('diagnosis-child.js') && line.includes(dir))
    .map((line) => Number(line.trim().split(/\s+/)[0]))
}

test('the analysis process does not outlive its server, even one killed with SIGKILL', { timeout: 330_000 }, async () => {
  let seen = []
  let dir = null
  const { events, stderr } = await serve('map', {
    until: (ev) => {
      const started = ev.filter((e) => e.event === 'snapshot').length === 3
      if (started && seen.length === 0) {
        dir = path.dirname(ev.filter((e) => e.event === 'snapshot')[2].path)
        // The third dump resolves, then the analysis starts: look for it for up to 5 s.
        for (let i = 0; i < 100 && seen.length === 0; i++) {
          seen = analysesIn(dir)
          if (seen.length === 0) execFileSync('sleep', ['0.05'])
        }
        return true
      }
      return ev.some((e) => e.event === 'leak-report')
    },
    kill: 'SIGKILL',
  })
  try {
    assert.ok(dir, `no third dump: ${stderr} ${JSON.stringify(events)}`)
    assert.equal(seen.length, 1, 'the analysis process was running when the server was killed')
    let left = seen
    for (let i = 0; i < 150 && left.length > 0; i++) {
      await new Promise((resolve) => setTimeout(resolve, 100))
      left = analysesIn(dir)
    }
    assert.deepEqual(left, [], 'the analysis process ended with its server')
    // Cancelled, not finished: it ends with its server rather than completing unwatched.
    assert.equal(fs.existsSync(path.join(dir, 'report.json')), false)
    assert.deepEqual(fs.readdirSync(dir).filter((f) => f.endsWith('.tmp')), [])
  } finally {
    if (dir) fs.rmSync(path.dirname(dir), { recursive: true, force: true })
  }
})
