'use strict'

// An Express service with the most common production leak: a cache with no bound and no
// expiry, keyed by something unbounded (here, the query string of a report). leakwatch
// watches it, writes a heap snapshot when it reports a leak, and exports its metrics on
// /metrics next to prom-client's default ones.
//
//   npm ci && npm start                       # http://127.0.0.1:3000
//   curl 'http://127.0.0.1:3000/report?customer=42&from=2026-01-01'
//   curl http://127.0.0.1:3000/metrics

const express = require('express')
const client = require('prom-client')
const leakwatch = require('leakwatch')

// ---- what a team adds to its own app --------------------------------------------------------
const watcher = leakwatch.start({
  snapshot: { dir: process.env.SNAPSHOT_DIR || './heapdumps', onLeak: true, maxFiles: 3 },
})
watcher.on('leak', (leak) => console.warn(`[leakwatch] leak: ${leak.reason}`))
watcher.on('leak-stopped', (leak) => console.warn(`[leakwatch] ${leak.reason}`))
watcher.on('snapshot', (s) => console.warn(`[leakwatch] heap snapshot: ${s.path} (${s.bytes} bytes)`))
watcher.on('snapshot-skipped', (s) => console.warn(`[leakwatch] ${s.message}`))
watcher.on('error', (err) => console.error(`[leakwatch] ${err.code}: ${err.message}`))
client.collectDefaultMetrics()
leakwatch.prometheus({ register: client.register })
// ----------------------------------------------------------------------------------------------

const app = express()

// The leak: every distinct query string keeps its report forever.
const reportCache = new Map()

function buildReport(query) {
  const rows = []
  for (let i = 0; i < 500; i++) {
    rows.push({ line: i, customer: query.customer, amount: Math.round(Math.random() * 1e4) / 100,
      note: `invoice ${i} for customer ${query.customer} from ${query.from || 'the start'}` })
  }
  return { query, generatedAt: new Date().toISOString(), rows }
}

app.get('/report', (req, res) => {
  const key = JSON.stringify(req.query)
  let report = reportCache.get(key)
  if (!report) {
    report = buildReport(req.query)
    reportCache.set(key, report)
  }
  res.json({ customer: report.query.customer, rows: report.rows.length, generatedAt: report.generatedAt })
})

app.get('/health', (req, res) => res.json({ ok: true, cachedReports: reportCache.size }))

app.get('/metrics', async (req, res) => {
  res.set('Content-Type', client.register.contentType)
  res.send(await client.register.metrics())
})

const server = app.listen(Number(process.env.PORT ?? 3000), process.env.HOST || '127.0.0.1', () => {
  const { address, port } = server.address()
  console.log(`listening on http://${address}:${port}`)
})

// Stop cleanly on SIGTERM (container shutdown): close the server, then stop monitoring.
process.on('SIGTERM', () => {
  server.close(() => {
    leakwatch.stop()
    process.exit(0)
  })
})
