'use strict'

// Heaps of a chosen size and object density, kept alive on globalThis.heldForSnapshot.
// Densities differ in how many snapshot nodes and edges a megabyte of heap makes, which is
// what a snapshot's memory and file size follow.

const v8 = require('node:v8')

class Order {
  constructor(i) {
    this.id = i
    this.customer = { name: `customer-${i % 5000}`, tier: i % 3 }
    this.lines = [{ sku: i % 977, qty: 1 }, { sku: i % 613, qty: 2 }]
    this.createdAt = new Date(1_700_000_000_000 + i)
  }
}

// Each builder appends one unit of its kind to `held`.
const KINDS = {
  // Many small objects: the densest heap (most nodes and edges per byte).
  objects: (held, i) => held.push({ a: i, b: { c: i }, d: [i] }),
  // A service's in-memory state: classes, nested objects, strings, Dates.
  server: (held, i) => held.push(new Order(i)),
  // Map and Set entries with string keys.
  maps: (held, i) => {
    if (!held.lastMap || held.lastMap.size >= 1_000_000) {
      held.lastMap = new Map()
      held.lastSet = new Set()
      held.push(held.lastMap, held.lastSet)
    }
    held.lastMap.set(`key-${i}`, { value: i })
    held.lastSet.add(`member-${i}`)
  },
  // Closures capturing per-request context.
  closures: (held, i) => {
    const ctx = { id: i, tags: ['a', 'b'] }
    held.push(() => ctx.id + ctx.tags.length)
  },
  // Distinct medium strings (~120 bytes each).
  strings: (held, i) => held.push(`${'payload-'.repeat(12)}${i}-${Math.random().toString(36)}`),
  // Large arrays of small integers: few nodes per byte.
  arrays: (held, i) => held.push(Array.from({ length: 4096 }, (_, k) => (i + k) & 0xffff)),
}

/**
 * A real application's heap: the TypeScript compiler (the JavaScript one, which @napi-rs/cli
 * depends on) after type-checking as many of its own `lib.*.d.ts` files as `targetBytes`
 * allows (about 1 MB of heap per file). `null` when it cannot be found.
 */
function typescript() {
  const path = require('node:path')
  for (const from of [path.join(__dirname, '../../node_modules/@napi-rs/cli'), path.join(__dirname, '../..')]) {
    try {
      const ts = require(require.resolve('typescript', { paths: [from] }))
      if (typeof ts.createProgram === 'function') return ts
    } catch {}
  }
  return null
}

function buildApp(targetBytes) {
  const ts = typescript()
  if (!ts) throw new Error('the JavaScript TypeScript compiler (a dependency of @napi-rs/cli) is not installed')
  const fs = require('node:fs')
  const path = require('node:path')
  const lib = path.dirname(ts.getDefaultLibFilePath({}))
  const files = fs.readdirSync(lib).filter((f) => /^lib\..*\.d\.ts$/.test(f)).sort().map((f) => path.join(lib, f))
  const count = Math.max(1, Math.min(files.length, Math.round(targetBytes / (1024 * 1024))))
  const program = ts.createProgram(files.slice(0, count), { noEmit: true, noLib: true, target: ts.ScriptTarget.ESNext })
  ts.getPreEmitDiagnostics(program)
  globalThis.heldForSnapshot = [program, program.getTypeChecker()]
  return v8.getHeapStatistics().used_heap_size
}

/** Grows the heap by about `targetBytes` of `kind` objects; returns the heap used. */
function build(kind, targetBytes) {
  if (kind === 'app') return buildApp(targetBytes)
  const add = KINDS[kind]
  if (!add) throw new Error(`unknown heap kind ${kind}; known: ${Object.keys(KINDS).join(', ')}`)
  const held = []
  globalThis.heldForSnapshot = held
  const base = v8.getHeapStatistics().used_heap_size
  let i = 0
  for (;;) {
    for (let k = 0; k < (kind === 'arrays' ? 10 : 5000); k++) add(held, i++)
    if (v8.getHeapStatistics().used_heap_size - base >= targetBytes) break
  }
  return v8.getHeapStatistics().used_heap_size
}

module.exports = { build, KINDS: { ...KINDS, app: null }, typescript, Order }
