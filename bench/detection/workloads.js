'use strict'

// Workloads for judging leak detection on natural GC schedules (no forced GCs). The first
// fourteen are the classic Node.js server leaks (six) and the shapes that fool naive rules
// (eight, among them two that grow only during a process's first minute, as every deploy
// does); the rest are harder ones: npm packages used the wrong way per request, a leak that
// slows its own server, a leak and a cache fill that start after a healthy period, and
// deploys.
// `seconds`: how long a non-leak must stay silent in the tests (default 40);
// `machineLimits`: judged on this machine's limits rather than a modelled 512 MB container;
// `metric`: the metric a leak must be found on (default 'heap');
// `leakAfterS`: the leak (or a non-leak's growth) starts after this many healthy seconds
// (child.js --leak-after);
// `deploy`: run as two processes in sequence, the second started when the first exits
// (child.js supervises them).
// Each `start(params)` begins its activity in this process and returns a function that stops
// it (and may return a summary of the run). params: { leakAfterS, phase } from child.js.
// The HTTP ones serve real requests over 127.0.0.1, driven by an in-process client.

const crypto = require('node:crypto')
const http = require('node:http')
const { EventEmitter } = require('node:events')
const { Writable } = require('node:stream')
const promClient = require('prom-client')

/**
 * Serves `handler` and drives it at `rate` requests/s; returns stop(). With `maxInFlight`,
 * a request due while that many are unanswered is not sent (a client that gives up, as a load
 * balancer does), so a slow server serves fewer requests instead of the client queueing them.
 */
function httpLoad(handler, rate, { maxInFlight = Infinity } = {}) {
  const server = http.createServer(handler)
  const agent = new http.Agent({ keepAlive: true, maxSockets: 8 })
  let timer = null
  let sent = 0
  let inFlight = 0
  server.listen(0, '127.0.0.1', () => {
    const { port } = server.address()
    timer = setInterval(() => {
      for (let i = 0; i < rate / 20; i++) {
        if (inFlight >= maxInFlight) break
        sent++
        inFlight++
        const path = `/api/orders/${sent}?customer=${sent % 211}&page=${sent % 7}`
        const done = () => { inFlight-- }
        http.get({ host: '127.0.0.1', port, path, agent, headers: { 'x-request-id': `req-${sent}` } }, (res) => { res.on('end', done); res.resume() })
          .on('error', done)
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
  // ---- harder ones: npm packages used the wrong way, leaks that slow or start late, deploys --
  {
    name: 'metrics-labels',
    leaks: true,
    what: 'prom-client metrics labelled with the raw URL (request id, query): one new series per request, scraped every 15 s',
    start() {
      const registry = new promClient.Registry()
      const labelNames = ['method', 'route', 'status']
      const duration = new promClient.Histogram({ name: 'http_request_duration_seconds', help: 'request time', labelNames, registers: [registry] })
      const requests = new promClient.Counter({ name: 'http_requests_total', help: 'requests', labelNames, registers: [registry] })
      const stopLoad = httpLoad((req, res) => {
        const endTimer = duration.startTimer()
        // Meant to be the route template ('/api/orders/:id'); the raw URL makes every label
        // set unique, and prom-client keeps every series it has seen until reset().
        const labels = { method: req.method, route: req.url, status: 200 }
        reply(res, { ok: true, lines: requestState(req, 1).lines.length })
        requests.inc(labels)
        endTimer(labels)
      }, 400)
      // Prometheus scrapes the registry; a scrape formats every series, so it grows too.
      let scrapes = 0
      const scrape = setInterval(() => { registry.metrics().then(() => { scrapes++ }) }, 15_000)
      return () => { clearInterval(scrape); stopLoad(); return { scrapes } }
    },
  },
  {
    name: 'memoised-quotes',
    leaks: true,
    what: 'a hand-written memoiser around a price quote, called with the request time in its arguments: every key unique',
    start() {
      const quote = memoise((sku, quantity, customer, quotedAt) => ({
        sku, quantity, customer, quotedAt,
        lines: Array.from({ length: 12 }, (_, i) => ({ tier: i, unit: 9.5 - i * 0.25, label: `${sku} tier ${i} for ${customer}` })),
      }))
      return httpLoad((req, res) => {
        const url = new URL(req.url, 'http://orders.local')
        const customer = url.searchParams.get('customer')
        // Meant to be memoised on (sku, quantity, customer): 211 × 7 keys. The timestamp,
        // added later for the response, makes every call a miss and every result stay.
        const q = quote(`sku-${Number(url.searchParams.get('page')) * 31}`, 3, customer, Date.now() + Math.random())
        reply(res, { total: q.lines[0].unit * q.quantity })
      }, 300)
    },
  },
  {
    name: 'client-per-request',
    leaks: true,
    what: 'a new keep-alive http.Agent (an HTTP client) per request to an upstream, each kept in a set "to close at shutdown"',
    start() {
      const upstream = http.createServer((req, res) => reply(res, { stock: req.url.length }))
      upstream.keepAliveTimeout = 1000 // its idle sockets close after 1 s; the Agents stay
      const openClients = new Set()
      let upstreamPort = 0
      upstream.listen(0, '127.0.0.1', () => { upstreamPort = upstream.address().port })
      const stopLoad = httpLoad((req, res) => {
        // Should be one Agent per upstream, made once; this makes one per request and keeps it.
        const agent = new http.Agent({ keepAlive: true, maxSockets: 4 })
        openClients.add(agent)
        const context = { requestId: req.headers['x-request-id'], url: req.url, headers: { ...req.headers } }
        agent.on('free', () => { context.reused = true })
        http.get({ host: '127.0.0.1', port: upstreamPort, path: `/stock${req.url}`, agent }, (up) => {
          up.resume()
          up.on('end', () => reply(res, { ok: true, id: context.requestId }))
        }).on('error', () => reply(res, { ok: false }))
      }, 200)
      return () => {
        stopLoad()
        for (const agent of openClients) agent.destroy()
        upstream.close()
        upstream.closeAllConnections()
        return { clients: openClients.size }
      }
    },
  },
  {
    name: 'session-scan',
    leaks: true,
    // Judged on the machine's limits in the tests: there the first `leak` needs ~75 s of
    // growth, by which time the server has slowed and the leak with it (in a 512 MB container
    // it is urgent and reported at ~12 s, before the slowdown).
    machineLimits: true,
    what: 'every login kept in an array that each request scans (O(n)): throughput falls as it grows, and so does the leak',
    start() {
      const sessions = [] // meant to be pruned at logout; nothing prunes it
      const started = Date.now()
      const servedPerSecond = []
      const stopLoad = httpLoad((req, res) => {
        const url = new URL(req.url, 'http://orders.local')
        const user = url.searchParams.get('customer')
        const now = Date.now()
        // "Other active sessions of this user, not bots": every session ever, its claims
        // parsed each time (~1 µs a session).
        let others = 0
        for (const s of sessions) {
          const claims = JSON.parse(s.claims)
          if (claims.exp > now && claims.sub === user && !/bot|crawler|spider/i.test(claims.ua)) others++
        }
        sessions.push({
          id: req.headers['x-request-id'],
          claims: JSON.stringify({ sub: user, exp: now + 15 * 60_000, iat: now, ua: `Mozilla/5.0 (X11; Linux x86_64) orders-client/${sessions.length % 50}`, scopes: ['orders:read', 'orders:write', 'profile'] }),
          cart: Array.from({ length: 24 }, (_, i) => ({ sku: `sku-${i}-${user}`, qty: i & 3, price: i * 1.5 })),
        })
        const second = Math.floor((Date.now() - started) / 1000)
        servedPerSecond[second] = (servedPerSecond[second] || 0) + 1
        reply(res, { ok: true, others })
      }, 300, { maxInFlight: 16 })
      return () => {
        stopLoad()
        const rate = (from, to) => servedPerSecond.slice(from, to).reduce((a, b) => a + (b || 0), 0) / (to - from)
        const last = servedPerSecond.length - 1 // the second cut short by stop() left out
        return { sessions: sessions.length, requestsPerSecondFirst10s: rate(0, 10), requestsPerSecondLast10s: rate(last - 10, last) }
      }
    },
  },
  {
    name: 'late-leak',
    leaks: true,
    // The benchmark runs the healthy part for 5 min; the tests shorten it (child.js --leak-after).
    leakAfterS: 300,
    what: 'a healthy service (garbage, a bounded cache) whose upstream fails after leakAfterS: from then on every request parks its payload in a retry queue that is never drained',
    start({ leakAfterS = 300 } = {}) {
      const recent = new Map() // the last 500 orders, for a "recently viewed" panel
      const retryQueue = []
      let upstreamDown = false
      const failure = setTimeout(() => { upstreamDown = true }, leakAfterS * 1000)
      const stopLoad = httpLoad((req, res) => {
        const state = requestState(req, 2)
        recent.set(req.url, state.lines.length)
        if (recent.size > 500) recent.delete(recent.keys().next().value)
        if (!upstreamDown) return reply(res, { ok: true, lines: state.lines.length })
        // The retry runs when the circuit closes; it never re-checks the upstream, so never.
        retryQueue.push({ id: req.headers['x-request-id'], attempts: 0, payload: state })
        reply(res, { queued: true, position: retryQueue.length })
      }, 300)
      return () => { clearTimeout(failure); stopLoad(); return { queued: retryQueue.length } }
    },
  },
  {
    name: 'late-cache',
    leaks: false,
    // A 2 MB/s fill is minutes from a 512 MB container's limit: judged on the machine's own.
    machineLimits: true,
    leakAfterS: 300,
    seconds: 75,
    what: 'a healthy service whose report cache starts filling after leakAfterS (a new tenant, a nightly job): ~2 MB/s for 15 s to its bound, then only hits and evicts',
    start({ leakAfterS = 300 } = {}) {
      const capacity = 6_000
      const reports = new Map()
      let n = 0
      let filling = false
      const begin = setTimeout(() => { filling = true }, leakAfterS * 1000)
      const timer = setInterval(() => {
        // Before: requests for the same few reports; from leakAfterS: new ones until the bound.
        const batch = filling && reports.size < capacity ? 8 : 1
        for (let i = 0; i < batch; i++) {
          const key = `report:${filling ? n++ : n % 50}`
          if (!reports.has(key)) {
            reports.set(key, { key, rows: Array.from({ length: 40 }, (_, j) => ({ j, cell: `${key}/${j}` })) })
            if (reports.size > capacity) reports.delete(reports.keys().next().value)
          }
        }
      }, 20)
      return () => { clearTimeout(begin); clearInterval(timer); return { cached: reports.size } }
    },
  },
  {
    name: 'deploy-steady',
    leaks: false,
    deploy: true,
    machineLimits: true,
    seconds: 120,
    what: 'a service restarted (deployed) mid-run: each process compiles 4,000 templates and fills a bounded response cache for ~45 s, then is flat',
    start() {
      return warmingService({ leak: false })
    },
  },
  {
    name: 'deploy-leak',
    leaks: true,
    deploy: true,
    what: 'the same service with a leak (request contexts in a Map, never deleted), restarted: found again in the new process, through its warm-up',
    start() {
      return warmingService({ leak: true })
    },
  },
]

/** A small memoiser of the kind many services write: results kept by their JSON-ed arguments. */
function memoise(fn) {
  const results = new Map()
  return (...args) => {
    const key = JSON.stringify(args)
    if (!results.has(key)) results.set(key, fn(...args))
    return results.get(key)
  }
}

/**
 * An HTTP service whose first ~45 s look like every deploy: templates compiled on first use
 * (4,000 generated functions: source, bytecode, then optimised code) and a response cache
 * filling to its bound of 13,500 entries (~0.5 MB/s), after which it only hits. With `leak`,
 * every request's context also stays in a Map keyed by request id.
 */
function warmingService({ leak }) {
  const templates = new Map()
  const responses = new Map()
  const contexts = new Map()
  return httpLoad((req, res) => {
    const url = new URL(req.url, 'http://orders.local')
    const n = Number(url.pathname.split('/').pop())
    const id = n % 4000
    let render = templates.get(id)
    if (!render) {
      const fields = Array.from({ length: 12 }, (_, i) => `'<td class="c${id}-${i}">' + (o.lines[${i}] ? o.lines[${i}].sku + ' × ' + o.lines[${i}].qty : '-') + '</td>'`)
      render = new Function('o', `return '<tr data-template="${id}">' + ${fields.join(' + ')} + '</tr>'`)
      templates.set(id, render)
    }
    if (leak) contexts.set(req.headers['x-request-id'], requestState(req, 2))
    const key = n % 13_500
    let html = responses.get(key)
    if (!html) {
      html = render(requestState(req, 2)).repeat(4)
      responses.set(key, html)
      if (responses.size > 13_500) responses.delete(responses.keys().next().value)
    }
    reply(res, { length: html.length })
  }, 300)
}

module.exports = { WORKLOADS }
