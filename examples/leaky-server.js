'use strict'

// A real HTTP server with a classic leak: every request leaves a closure that captures the
// request's data in a module-level array, so nothing it touched is ever collected. The demo
// drives it with its own load on 127.0.0.1 for a bounded time and prints what leakwatch
// reports.
//
//   node examples/leaky-server.js [--duration SECONDS] [--rate REQUESTS_PER_SECOND]

const http = require('node:http')
const path = require('node:path')
const leakwatch = require('..')

const args = process.argv.slice(2)
const arg = (name, fallback) => {
  const i = args.indexOf(name)
  return i >= 0 ? Number(args[i + 1]) : fallback
}
const durationS = arg('--duration', 30)
const rate = arg('--rate', 400)

// --- the application ---------------------------------------------------------------------
const auditTrail = [] // the leak: grows with every request, never trimmed

// Keeps an audit record of the request. The closure it stores keeps `session` (~8 KB: the
// URL, headers and a scratch array) alive forever. leakwatch's allocation sites name this
// function and the line it starts on.
function rememberRequest(req) {
  const session = { url: req.url, headers: req.headers, at: Date.now(), scratch: Array.from({ length: 1024 }, (_, i) => i * 0.5) }
  auditTrail.push(() => session)
}

const server = http.createServer((req, res) => {
  rememberRequest(req)
  res.setHeader('content-type', 'application/json')
  res.end(JSON.stringify({ ok: true, served: auditTrail.length }))
})

// --- leakwatch ---------------------------------------------------------------------------
const mb = (bytes) => (bytes / 1048576).toFixed(1)
const watcher = leakwatch.start({ statsIntervalMs: 1000 })
const started = Date.now()
watcher.on('stats', (s) => {
  const t = ((Date.now() - started) / 1000).toFixed(1).padStart(5)
  console.log(`${t}s stats  full GCs ${String(s.num_full_gc).padStart(3)}  heap after GC ${mb(s.current_base).padStart(6)} MB` +
    `  estimated base ${mb(s.estimated_base).padStart(6)} MB  trend ${String(s.usage_trend).padStart(5)} %` +
    `  rss ${mb(s.rss).padStart(6)} MB  pause ${s.pauseMs.toFixed(1)} ms`)
})
// Between full GCs, pull the latest figures (they follow the most recent GC of any kind).
const pull = setInterval(() => {
  const s = watcher.stats()
  const t = ((Date.now() - started) / 1000).toFixed(1).padStart(5)
  console.log(`${t}s pull   heap used ${mb(s.heap.used).padStart(6)} MB after a ${s.gcType}` +
    `  scavenges ${s.byType.scavenge.count}  rss ${mb(s.rss).padStart(6)} MB`)
}, 5000)
watcher.on('leak', (info) => {
  console.log(`LEAK: ${info.reason}`)
  // Where the memory that grew during the window was allocated (sampled, still alive).
  for (const site of (info.topAllocations || []).slice(0, 3)) {
    const where = `${path.relative(process.cwd(), site.url.replace(/^file:\/\//, '')) || site.url}:${site.line}`
    console.log(`      ${mb(site.bytes).padStart(6)} MB allocated in ${site.functionName || '(anonymous)'} (${where})`)
  }
  if (info.attribution && info.attribution.status !== 'ok') console.log(`      (no allocation sites: ${info.attribution.status})`)
})
watcher.on('error', (err) => console.error(`leakwatch error ${err.code}: ${err.message}`))

// --- the load ----------------------------------------------------------------------------
server.listen(0, '127.0.0.1', () => {
  const { port } = server.address()
  const agent = new http.Agent({ keepAlive: true, maxSockets: 16 })
  console.log(`leaky server on http://127.0.0.1:${port}, ${rate} requests/s for ${durationS} s`)
  let sent = 0
  let failed = 0
  const load = setInterval(() => {
    for (let i = 0; i < rate / 20; i++) {
      sent++
      http.get({ host: '127.0.0.1', port, path: `/orders/${sent}?user=${sent % 97}`, agent }, (res) => {
        res.resume()
      }).on('error', () => failed++)
    }
  }, 50)
  setTimeout(() => {
    clearInterval(load)
    clearInterval(pull)
    agent.destroy()
    server.close()
    const s = watcher.stats()
    console.log(`done: ${sent} requests (${failed} failed), ${s.num_full_gc} full GCs, ` +
      `heap after last full GC ${mb(s.current_base)} MB, rss ${mb(s.rss)} MB`)
    watcher.stop()
  }, durationS * 1000)
})
