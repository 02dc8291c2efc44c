'use strict'

// Workloads for judging leak detection on natural GC schedules (no forced GCs). Six leak
// (the classic Node.js server leaks) and eight do not (the shapes that fool naive rules,
// among them two that grow only during a process's first minute, as every deploy does).
// `seconds`: how long a non-leak must stay silent in the tests (default 40);
// `machineLimits`: judged on this machine's limits rather than a modelled 512 MB container.
// Each `start()` begins its activity in this process and returns a function that stops it.
// The HTTP ones serve real requests over 127.0.0.1, driven by an in-process client.

const crypto = require('node:crypto')
const http = require('node:http')
const { EventEmitter } = require('node:events')
const { Writable } = require('node:stream')

/** Serves `handler` and drives it at `rate` requests/s; returns stop(). */
function httpLoad(handler, rate) {
  const server = http.createServer(handler)
  const agent = new http.Agent({ keepAlive: true, maxSockets: 8 })
  let timer = null
  let sent = 0
  server.listen(0, '127.0.0.1', () => {
    const { port } = server.address()
    timer = setInterval(() => {
      for (let i = 0; i < rate / 20; i++) {
        sent++
        const path = `/api/orders/${sent}?customer=${sent % 211}&page=${sent % 7}`
        http.get({ host: '127.0.0.1', port, path, agent, headers: { 'x-request-id': `req-${sent}` } }, (res) => res.resume())
          .on('error', () => {})
      }
    }, 50)
  })
  return () => {
    clearInterval(timer)
    agent.destroy()
    server.close()
    server.closeAllConnections()
  }
}

/** Per-request state a handler typically builds: ~`kb` KB of objects and strings. */
function requestState(req, kb) {
  return {
    url: req.url,
    headers: { ...req.headers },
    at: Date.now(),
    lines: Array.from({ length: kb * 8 }, (_, i) => ({ sku: `sku-${i}`, qty: i & 7, price: i * 0.25 })),
  }
}

function reply(res, body) {
  res.setHeader('content-type', 'application/json')
  res.end(JSON.stringify(body))
}

const WORKLOADS = [
  // ---- leaks --------------------------------------------------------------------------
  {
    name: 'closures',
    leaks: true,
    what: 'a global array of closures that capture each request',
    start() {
      const audit = []
      return httpLoad((req, res) => {
        const state = requestState(req, 4)
        audit.push(() => state.url) // the closure keeps all of `state` alive
        reply(res, { ok: true, n: audit.length })
      }, 300)
    },
  },
  {
    name: 'map',
    leaks: true,
    what: 'a Map of in-flight requests whose entries are never deleted (slow: ~0.5 MB/s)',
    start() {
      const inFlight = new Map()
      return httpLoad((req, res) => {
        const id = req.headers['x-request-id']
        inFlight.set(id, requestState(req, 2))
        // The response path forgets `inFlight.delete(id)`.
        reply(res, { ok: true })
      }, 200)
    },
  },
  {
    name: 'listeners',
    leaks: true,
    what: 'a listener added to a long-lived EventEmitter per request',
    start() {
      const config = new EventEmitter()
      config.setMaxListeners(0)
      return httpLoad((req, res) => {
        const state = requestState(req, 3)
        config.on('reload', () => { state.stale = true })
        reply(res, { ok: true })
      }, 300)
    },
  },
  {
    name: 'closure-chain',
    leaks: true,
    what: "the closure-chain ('Meteor') leak: an unused closure shares the scope that holds the previous object",
    start() {
      let theThing = null
      const replaceThing = () => {
        const originalThing = theThing
        // Never called, but shares the closure scope with `someMethod`, so `originalThing`
        // is kept alive through every new `theThing`.
        const unused = () => { if (originalThing) return 'hi' }
        theThing = {
          longStr: crypto.randomBytes(8192).toString('hex'), // 16 KB, unique
          someMethod() { return unused.length },
        }
      }
      const timer = setInterval(replaceThing, 20)
      return () => clearInterval(timer)
    },
  },
  {
    name: 'stream',
    leaks: true,
    what: 'Buffers written to a stream whose writable never drains (external memory)',
    start() {
      // A sink that accepts one chunk and never acknowledges it: every later write() queues.
      const sink = new Writable({ highWaterMark: 64 * 1024, write(_chunk, _enc, _callback) {} })
      const timer = setInterval(() => {
        for (let i = 0; i < 4; i++) sink.write(Buffer.alloc(16 * 1024, i)) // ignores backpressure
      }, 50)
      return () => { clearInterval(timer); sink.destroy() }
    },
  },
  {
    name: 'cache',
    leaks: true,
    what: 'an unbounded memoisation cache keyed by request parameters',
    start() {
      const cache = {}
      let n = 0
      const timer = setInterval(() => {
        for (let i = 0; i < 40; i++) {
          const key = `report:${n++}:${Math.random().toString(36).slice(2)}`
          cache[key] = { key, rows: Array.from({ length: 24 }, (_, j) => ({ j, v: j * n })) }
        }
      }, 20)
      return () => clearInterval(timer)
    },
  },
  // ---- not leaks ----------------------------------------------------------------------
  {
    name: 'garbage',
    leaks: false,
    what: 'a steady server that only makes garbage',
    start() {
      return httpLoad((req, res) => {
        const state = requestState(req, 8)
        reply(res, { ok: true, lines: state.lines.length })
      }, 400)
    },
  },
  {
    name: 'lru',
    leaks: false,
    what: 'an LRU cache (20 000 entries, ~40 MB) warming up, then plateauing',
    start() {
      const capacity = 20_000
      const lru = new Map()
      const timer = setInterval(() => {
        for (let i = 0; i < 50; i++) {
          const key = `user:${Math.floor(Math.random() * 200_000)}`
          const hit = lru.get(key)
          if (hit) {
            lru.delete(key)
            lru.set(key, hit)
            continue
          }
          lru.set(key, { key, profile: Array.from({ length: 16 }, (_, j) => ({ j, s: `${key}:${j}` })) })
          if (lru.size > capacity) lru.delete(lru.keys().next().value)
        }
      }, 10)
      return () => clearInterval(timer)
    },
  },
  {
    name: 'batch',
    leaks: false,
    what: 'a periodic batch job that builds ~40 MB, aggregates it and drops it',
    start() {
      let running = false
      const job = () => {
        if (running) return
        running = true
        const rows = []
        let step = 0
        const chunk = setInterval(() => {
          for (let i = 0; i < 20_000; i++) rows.push({ id: rows.length, region: `r${i % 13}`, amount: i * 0.01 })
          if (++step === 20) {
            clearInterval(chunk)
            const totals = {}
            for (const r of rows) totals[r.region] = (totals[r.region] || 0) + r.amount
            rows.length = 0
            running = false
          }
        }, 25)
      }
      const timer = setInterval(job, 6000)
      job()
      return () => clearInterval(timer)
    },
  },
  {
    name: 'sessions',
    leaks: false,
    what: 'a session table swept every 8 s (sawtooth)',
    start() {
      const sessions = new Map()
      let n = 0
      const add = setInterval(() => {
        const now = Date.now()
        for (let i = 0; i < 6; i++) {
          sessions.set(`s${n++}`, { expires: now + 8000, cart: Array.from({ length: 20 }, (_, j) => ({ j, sku: `p${j}` })) })
        }
      }, 20)
      const sweep = setInterval(() => {
        const now = Date.now()
        for (const [id, s] of sessions) if (s.expires <= now) sessions.delete(id)
      }, 8000)
      return () => { clearInterval(add); clearInterval(sweep) }
    },
  },
  {
    name: 'idle',
    leaks: false,
    what: 'an idle process with a heartbeat timer',
    start() {
      const timer = setInterval(() => {}, 1000)
      return () => clearInterval(timer)
    },
  },
  {
    name: 'warming-cache',
    leaks: false,
    // Judged on the machine's own limits: in a small container this growth would be minutes
    // from the limit, and reporting it there is right.
    machineLimits: true,
    seconds: 120,
    what: 'a bounded cache that fills at ~1 MB/s for its first 30 s, then only evicts (every deploy)',
    start() {
      const capacity = 45_000
      const cache = new Map()
      let n = 0
      const timer = setInterval(() => {
        for (let i = 0; i < 30; i++) {
          const key = `product:${n++}`
          cache.set(key, { key, rows: Array.from({ length: 8 }, (_, j) => ({ j, label: `${key}/${j}` })) })
          if (cache.size > capacity) cache.delete(cache.keys().next().value)
        }
      }, 20)
      return () => clearInterval(timer)
    },
  },
  {
    name: 'startup-buffers',
    leaks: false,
    machineLimits: true,
    seconds: 120,
    what: 'native buffers preloaded at ~1 MB/s for the first 40 s (assets, pools), then held and read',
    start() {
      const pool = []
      const started = Date.now()
      let sum = 0
      const timer = setInterval(() => {
        if (Date.now() - started < 40_000) {
          pool.push(Buffer.alloc(100 * 1024, pool.length & 0xff))
        } else if (pool.length > 0) {
          // Served from the pool: read, not replaced (churn is buffer-pool's case).
          sum += pool[Math.floor(Math.random() * pool.length)][0]
        }
      }, 100)
      return () => { clearInterval(timer); return sum }
    },
  },
  {
    name: 'buffer-pool',
    leaks: false,
    what: 'a pool of 256 Buffers of 64 KB, constantly replaced (external churn)',
    start() {
      const pool = new Array(256).fill(null)
      const timer = setInterval(() => {
        for (let i = 0; i < 8; i++) pool[Math.floor(Math.random() * pool.length)] = Buffer.alloc(64 * 1024, i)
      }, 5)
      return () => clearInterval(timer)
    },
  },
]

module.exports = { WORKLOADS }
