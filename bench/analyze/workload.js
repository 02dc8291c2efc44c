'use strict'

// Builds a server-like heap in this process and writes real V8 heap snapshots of it:
// sessions (classes), users with role Sets, per-session Maps, request handlers (closures
// over their session), an LRU-ish string cache, arrays of order records — and a leak that
// grows between snapshots (request records kept in a module-level Map). Used by the
// benchmark (50–300 MB snapshots) and by the tests (a few MB).
//
//   node bench/analyze/workload.js --out DIR --sessions N --snapshots K --leak-per-step M
// Prints one JSON line: { files: [...] }.

const fs = require('node:fs')
const path = require('node:path')
const v8 = require('node:v8')

const { option } = require('../common')

const args = process.argv.slice(2)
const arg = (name, fallback) => option(args, name, fallback)
const out = arg('--out', '.')
const sessions = Number(arg('--sessions', 1000))
const snapshots = Number(arg('--snapshots', 1))
const leakPerStep = Number(arg('--leak-per-step', 0))
const prefix = arg('--prefix', 'workload')

class User {
  constructor(i) {
    this.id = i
    this.name = `user-${i}`
    this.email = `user${i}@example.com`
    this.roles = new Set(['reader', i % 7 === 0 ? 'admin' : 'writer', `team-${i % 13}`])
  }
}

class OrderLine {
  constructor(sku, qty, price) {
    this.sku = sku
    this.qty = qty
    this.price = price
  }
}

class Session {
  constructor(i, user) {
    this.id = `sess-${i.toString(36)}-${(i * 2654435761 >>> 0).toString(16)}`
    this.user = user
    this.createdAt = new Date(1700000000000 + i * 1000)
    this.attributes = new Map([['locale', i % 2 ? 'en-US' : 'de-DE'], ['theme', 'dark'], ['visits', i % 100]])
    this.cart = Array.from({ length: 1 + (i % 4) }, (_, k) => new OrderLine(`sku-${(i + k) % 5000}`, 1 + k, 9.99 + k))
    const session = this
    this.handlers = {
      onRequest: (req) => { session.lastSeen = req },
      onClose: function close() { return session.id },
    }
  }
}

// A request record the app forgets to delete: the leak.
class RequestRecord {
  constructor(n) {
    this.requestId = `req-${n}`
    this.path = `/api/items/${n % 1000}?page=${n % 17}`
    this.headers = { 'user-agent': 'bench', accept: 'application/json', 'x-request-id': `id-${n}` }
    this.body = `payload-${n}-`.repeat(4)
    this.timings = [n % 13, n % 29, n % 31]
  }
}

const users = []
const live = new Map()
const stringCache = new Map()
const orderLog = []
const recordsById = new Map() // the leak

let counter = 0
function buildBaseline() {
  for (let i = 0; i < sessions; i++) {
    const user = new User(i)
    users.push(user)
    live.set(`sess-${i}`, new Session(i, user))
    if (i % 3 === 0) stringCache.set(`k${i}`, `cached value for ${i} `.repeat(3))
    if (i % 2 === 0) orderLog.push([i, `order-${i}`, { total: i * 1.5, lines: i % 5 }])
  }
}

function leak(n) {
  for (let k = 0; k < n; k++) {
    counter++
    recordsById.set(`req-${counter}`, new RequestRecord(counter))
  }
}

function churn() {
  // Short-lived garbage, as a server makes between snapshots.
  let junk = []
  for (let i = 0; i < 20000; i++) junk.push({ i, s: `tmp-${i}` })
  junk = null
  return junk
}

fs.mkdirSync(out, { recursive: true })
buildBaseline()
const files = []
for (let step = 0; step < snapshots; step++) {
  if (step > 0) {
    leak(leakPerStep)
    churn()
  }
  const file = path.join(out, `${prefix}-${step + 1}.heapsnapshot`)
  v8.writeHeapSnapshot(file)
  files.push(path.resolve(file))
}
process.stdout.write(JSON.stringify({ files, sessions, leaked: counter }) + '\n')
