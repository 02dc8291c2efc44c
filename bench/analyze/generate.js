'use strict'

// Writes big `.heapsnapshot` files without holding them in memory: the heap of
// bench/analyze/workload.js (sessions with users, role Sets, attribute Maps, carts of order
// lines, handler closures over their session's context, a string cache, an order log, and a
// leak of request records kept in a module-level Map), laid out as V8 lays out a snapshot
// (the same meta, root and GC roots, hidden classes, prototypes and constructors, cons
// strings, Map and Set backing tables, elements arrays, contexts, locations). Each session
// is a unit whose nodes, edges, locations and strings are a function of its number, so the
// file is written in four passes (count, nodes, edges, locations) plus the strings, each
// streaming through one buffer: memory stays a few MB plus 4 bytes per unit.
//
//   node bench/analyze/generate.js --out DIR [--prefix P] (--gb X | --sessions N)
//        [--snapshots K] [--leak-share F]
//
// A series of K snapshots of one process: snapshot k (1-based) has (k-1) × leak-per-step
// leaked records and has lost 4 % of the sessions per step (their ids never come back);
// --leak-share is the share of the last snapshot's bytes the leak takes (default 0.25 with
// K > 1). --gb sizes the last snapshot. Node ids are stable across the series, as in the
// dumps of one process. Prints one JSON line: { files: [...], sessions, leaked }.

const fs = require('node:fs')
const path = require('node:path')

const { option } = require('../common')

const args = process.argv.slice(2)
const arg = (name, fallback) => option(args, name, fallback)
const out = arg('--out', '.')
const prefix = arg('--prefix', 'generated')
const snapshots = Number(arg('--snapshots', 1))
const leakShare = Number(arg('--leak-share', snapshots > 1 ? 0.25 : 0))

// Bytes of file per session and per leaked record, measured on generated files (they vary a
// little with the number of digits): used only to size --gb.
const BYTES_PER_SESSION = 2350
const BYTES_PER_RECORD = 720

let sessions = Number(arg('--sessions', 0))
let leakPerStep = Number(arg('--leak-per-step', -1))
if (arg('--gb', null) !== null) {
  const bytes = Number(arg('--gb')) * 1e9
  const leakBytes = snapshots > 1 ? bytes * leakShare : 0
  sessions = Math.round((bytes - leakBytes) / BYTES_PER_SESSION / (1 - 0.04 * (snapshots - 1)))
  leakPerStep = snapshots > 1 ? Math.round(leakBytes / BYTES_PER_RECORD / (snapshots - 1)) : 0
}
if (!(sessions > 0)) throw new Error('give --sessions N or --gb X')
if (leakPerStep < 0) leakPerStep = snapshots > 1 ? Math.round(sessions / 2) : 0

const META = {
  node_fields: ['type', 'name', 'id', 'self_size', 'edge_count', 'trace_node_id', 'detachedness'],
  node_types: [['hidden', 'array', 'string', 'object', 'code', 'closure', 'regexp', 'number', 'native',
    'synthetic', 'concatenated string', 'sliced string', 'symbol', 'bigint', 'object shape', 'wasm object'],
  'string', 'number', 'number', 'number', 'number', 'number'],
  edge_fields: ['type', 'name_or_index', 'to_node'],
  edge_types: [['context', 'element', 'property', 'internal', 'hidden', 'shortcut', 'weak'],
    'string_or_number', 'node'],
  trace_function_info_fields: ['function_id', 'name', 'script_name', 'script_id', 'line', 'column'],
  trace_node_fields: ['id', 'function_info_index', 'count', 'size', 'children'],
  sample_fields: ['timestamp_us', 'last_assigned_id'],
  location_fields: ['object_index', 'script_id', 'line', 'column'],
}
const NF = META.node_fields.length
const T = Object.fromEntries(META.node_types[0].map((t, i) => [t, i]))
const ET = Object.fromEntries(META.edge_types[0].map((t, i) => [t, i]))

// ---- the fixed strings -------------------------------------------------------------------
const fixed = ['']
const fixedIndex = new Map([['', 0]])
function str(text) {
  let i = fixedIndex.get(text)
  if (i === undefined) {
    i = fixed.length
    fixed.push(text)
    fixedIndex.set(text, i)
  }
  return i
}
const SKUS = 5000
const TEAMS = 13
const skuBase = fixed.length
for (let j = 0; j < SKUS; j++) str(`sku-${j}`)
const teamBase = fixed.length
for (let j = 0; j < TEAMS; j++) str(`team-${j}`)
const S = Object.create(null) // property names include __proto__
for (const name of ['(GC roots)', 'global', 'Object', 'Array', 'Map', 'Set', 'Date', 'Function', 'Session', 'User',
  'OrderLine', 'RequestRecord', 'system / Map', 'system / Context', 'system / ScopeInfo', 'system / FeedbackCell',
  'system / DescriptorArray', 'system / Map (OneByteInternalizedString)', 'system / Map (OneByteString)',
  'system / Map (ConsOneByteString)', '(object elements)', '(concatenated string)', 'heap number',
  '(CompileLazy builtin handle)', 'onRequest', 'close', '(Internalized strings)', '(Strong roots)',
  '(Handle scope)', '(Global handles)', '(Builtins)', 'map', 'table', 'elements', 'context', 'shared', 'code',
  'feedback_cell', '__proto__', 'prototype', 'constructor', 'scope_info', 'previous', 'first', 'second',
  'descriptors', 'id', 'user', 'createdAt', 'attributes', 'cart', 'handlers', 'name', 'email', 'roles', 'sku',
  'price', 'requestId', 'path', 'headers', 'body', 'timings', 'user-agent', 'accept', 'x-request-id', 'bench',
  'application/json', 'locale', 'theme', 'visits', 'en-US', 'de-DE', 'dark', 'reader', 'admin', 'writer',
  'sessions', 'users', 'stringCache', 'orderLog', 'recordsById', 'total', 'lines', 'session', 'native_context',
  '@example.com', 'file:///srv/app/server.js', 'system / NativeContext', 'system / Script']) {
  S[name] = str(name)
}

// Strings of one session g and one record r, after the fixed ones; then "0", "1", … for the
// numbered internal edges of backing tables and elements.
const PER_SESSION = 7
const PER_RECORD = 4
function sessionStrings(g) {
  return [`sess-${g.toString(36)}-`, ((g * 2654435761) >>> 0).toString(16), `user-${g}`, `user${g}`,
    `k${g}`, `cached value for ${g} `.repeat(3), `order-${g}`]
}
function recordStrings(r) {
  return [`req-${r}`, `/api/items/${r % 1000}?page=${r % 17}&q=${r}`, `id-${r}`, `payload-${r}-`.repeat(4)]
}

// ---- the series ----------------------------------------------------------------------------
const totalRecords = leakPerStep * (snapshots - 1)
const sessionBase = fixed.length
const recordBase = sessionBase + sessions * PER_SESSION
const numberBase = recordBase + totalRecords * PER_RECORD
const MAX_UNIT = 48 // nodes a unit may take: ids are spaced by it
const alive = (g, k) => g % 25 >= k // snapshot k (0-based) has lost sessions with g % 25 < k

const oneByte = (len) => Math.ceil((16 + len) / 8) * 8

/** Writes numbers and text into a buffer flushed to `fd`. */
class Writer {
  constructor(fd) {
    this.fd = fd
    this.buf = Buffer.allocUnsafe(1 << 22)
    this.pos = 0
    this.bytes = 0
  }

  room(n) {
    if (this.pos + n > this.buf.length) this.flush()
  }

  flush() {
    let off = 0
    while (off < this.pos) off += fs.writeSync(this.fd, this.buf, off, this.pos - off)
    this.bytes += this.pos
    this.pos = 0
  }

  text(s) {
    this.room(s.length * 3 + 8)
    this.pos += this.buf.write(s, this.pos, 'utf8')
  }

  num(v) {
    if (v < 10) {
      this.buf[this.pos++] = 48 + v
      return
    }
    let digits = 0
    for (let x = v; x >= 1; x = Math.floor(x / 10)) digits++
    let p = this.pos + digits
    this.pos = p
    for (let x = v; x >= 1; x = Math.floor(x / 10)) this.buf[--p] = 48 + (x % 10)
  }

  /** One row of a flat number array: `\n,` before all but the first, the values comma-separated. */
  row(first, values) {
    this.room(24 * values.length + 2)
    if (!first) {
      this.buf[this.pos++] = 10
      this.buf[this.pos++] = 44
    }
    for (let i = 0; i < values.length; i++) {
      if (i > 0) this.buf[this.pos++] = 44
      this.num(values[i])
    }
  }
}

/**
 * The snapshot's nodes and edges in one order, told to a sink: `node(type, name, id, size,
 * edges)` then that many `edge(type, nameOrIndex, toOrdinal)` calls; `location(ordinal, line,
 * column)` for objects and closures with a known constructor.
 */
function layout(k, sink) {
  const records = leakPerStep * k
  // Unit starts, so containers can point at their members: 4 bytes per unit.
  const sessionStart = new Uint32Array(sessions)
  const recordStart = new Uint32Array(records)
  let o = 0
  const at = {}
  // The header: fixed nodes at fixed ordinals.
  for (const name of ['root', 'gcRoots', 'internalized', 'strong', 'handles', 'globalHandles', 'builtins',
    'global', 'nativeContext', 'scriptContext', 'script', 'scopeInfo', 'feedbackCell', 'lazyCode', 'metaMap',
    'stringShape', 'internalizedShape', 'consShape', 'numberShape', 'contextShape', 'closureShape', 'arrayShape',
    'elementsShape', 'tableShape', 'functionProto', 'objectProto', 'objectShape']) at[name] = o++
  const classes = ['Session', 'User', 'OrderLine', 'RequestRecord', 'Array', 'Map', 'Set', 'Date', 'Object']
  for (const c of classes) {
    at[`${c}.ctor`] = o++
    at[`${c}.proto`] = o++
    at[`${c}.shape`] = o++
    at[`${c}.code`] = o++
    at[`${c}.descriptors`] = o++
  }
  at.handlersShape = o++
  at.onRequestCode = o++
  at.closeCode = o++
  at.sharedStrings = o
  const sharedNames = [S.bench, S['application/json'], S.locale, S.theme, S['en-US'], S['de-DE'], S.dark, S.reader,
    S.admin, S.writer, S['@example.com']]
  const shared = new Map()
  for (const s of sharedNames) shared.set(s, o++)
  const team = o
  o += TEAMS
  for (const name of ['sessions', 'sessionsTable', 'users', 'usersElements', 'cache', 'cacheTable', 'orderLog',
    'orderLogElements', 'records', 'recordsTable']) at[name] = o++
  const headerEnd = o
  // Unit sizes first: the containers precede the units.
  const unitSize = (g) => 20 + 3 * (1 + (g % 4)) + (g % 3 === 0 ? 2 : 0) + (g % 2 === 0 ? ORDER_ROW : 0)
  const RECORD_SIZE = 10
  const ORDER_ROW = 5
  let live = 0
  let cached = 0
  let orders = 0
  for (let g = 0; g < sessions; g++) {
    if (!alive(g, k)) continue
    sessionStart[g] = o
    o += unitSize(g)
    live++
    if (g % 3 === 0) cached++
    if (g % 2 === 0) orders++
  }
  for (let r = 0; r < records; r++) {
    recordStart[r] = o
    o += RECORD_SIZE
  }
  const nodeCount = o
  const idOf = (ordinal) => 2 * ordinal + 1
  const unitId = (g, j) => 2 * (headerEnd + g * MAX_UNIT + j) + 1
  const recordId = (r, j) => unitId(sessions + r, j)
  if (unitId(sessions + records, 0) >= 2 ** 32) throw new Error('too many units for 32-bit ids')
  const num = (i) => numberBase + i
  const { node, edge, location } = sink
  const shape = (to) => edge(ET.internal, S.map, to)
  const proto = (to) => edge(ET.property, S.__proto__, to)
  const string = (id, name, len) => {
    node(T.string, name, id, oneByte(len), 1)
    shape(at.stringShape)
  }
  const heapNumber = (id) => {
    node(T.number, S['heap number'], id, 16, 1)
    shape(at.numberShape)
  }
  /** An Array object and its elements store, pointing at `items` (ordinals). */
  const array = (id, elementsId, items, selfOrdinal) => {
    node(T.object, S.Array, id, 32, items.length + 3)
    for (let i = 0; i < items.length; i++) edge(ET.element, i, items[i])
    proto(at['Array.proto'])
    edge(ET.internal, S.elements, selfOrdinal + 1)
    shape(at['Array.shape'])
    node(T.array, S['(object elements)'], elementsId, 16 + 8 * items.length, items.length)
    for (let i = 0; i < items.length; i++) edge(ET.internal, num(i), items[i])
  }

  // -- header nodes --
  node(T.synthetic, 0, idOf(at.root), 0, 2)
  edge(ET.element, 1, at.gcRoots)
  edge(ET.shortcut, S.global, at.global)
  node(T.synthetic, S['(GC roots)'], idOf(at.gcRoots), 0, 5)
  for (const [i, sub] of ['internalized', 'strong', 'handles', 'globalHandles', 'builtins'].entries()) {
    edge(ET.element, i + 1, at[sub])
  }
  node(T.synthetic, S['(Internalized strings)'], idOf(at.internalized), 0, sharedNames.length)
  for (const [i, s] of sharedNames.entries()) edge(ET.internal, num(i), shared.get(s))
  node(T.synthetic, S['(Strong roots)'], idOf(at.strong), 0, 2)
  edge(ET.internal, num(0), at.nativeContext)
  edge(ET.internal, num(1), at.metaMap)
  node(T.synthetic, S['(Handle scope)'], idOf(at.handles), 0, 1)
  edge(ET.internal, num(0), at.scriptContext)
  node(T.synthetic, S['(Global handles)'], idOf(at.globalHandles), 0, 1)
  edge(ET.internal, num(0), at.global)
  node(T.synthetic, S['(Builtins)'], idOf(at.builtins), 0, 1)
  edge(ET.internal, num(0), at.lazyCode)
  node(T.object, S.global, idOf(at.global), 48, 8)
  for (const [name, to] of [['sessions', at.sessions], ['users', at.users], ['stringCache', at.cache],
    ['orderLog', at.orderLog], ['recordsById', at.records]]) edge(ET.property, S[name], to)
  proto(at.objectProto)
  edge(ET.internal, S.native_context, at.nativeContext)
  shape(at.objectShape)
  node(T.hidden, S['system / NativeContext'], idOf(at.nativeContext), 1200, 2 + classes.length)
  edge(ET.internal, S.previous, at.scriptContext)
  for (const [i, c] of classes.entries()) edge(ET.internal, num(i + 1), at[`${c}.ctor`])
  shape(at.contextShape)
  node(T.object, S['system / Context'], idOf(at.scriptContext), 64, 3)
  edge(ET.internal, S.scope_info, at.scopeInfo)
  edge(ET.internal, S.code, at.script)
  shape(at.contextShape)
  node(T.code, S['system / Script'], idOf(at.script), 80, 1)
  edge(ET.internal, S.name, shared.get(S.bench))
  node(T.code, S['system / ScopeInfo'], idOf(at.scopeInfo), 40, 0)
  node(T.code, S['system / FeedbackCell'], idOf(at.feedbackCell), 16, 0)
  node(T.code, S['(CompileLazy builtin handle)'], idOf(at.lazyCode), 0, 0)
  node(T.hidden, S['system / Map'], idOf(at.metaMap), 40, 0)
  for (const [name, text] of [['stringShape', 'system / Map (OneByteString)'],
    ['internalizedShape', 'system / Map (OneByteInternalizedString)'],
    ['consShape', 'system / Map (ConsOneByteString)'], ['numberShape', 'system / Map'],
    ['contextShape', 'system / Map'], ['closureShape', 'system / Map'], ['arrayShape', 'system / Map'],
    ['elementsShape', 'system / Map'], ['tableShape', 'system / Map']]) {
    node(T.hidden, S[text], idOf(at[name]), 40, 1)
    edge(ET.internal, S.map, at.metaMap)
  }
  node(T.closure, 0, idOf(at.functionProto), 32, 2)
  proto(at.objectProto)
  edge(ET.internal, S.map, at.closureShape)
  node(T.object, S.Object, idOf(at.objectProto), 24, 1)
  edge(ET.internal, S.map, at.objectShape)
  node(T['object shape'], S['system / Map'], idOf(at.objectShape), 40, 1)
  edge(ET.internal, S.map, at.metaMap)
  for (const c of classes) {
    node(T.closure, S[c], idOf(at[`${c}.ctor`]), 32, 5)
    edge(ET.property, S.prototype, at[`${c}.proto`])
    proto(at.functionProto)
    edge(ET.internal, S.shared, at[`${c}.code`])
    edge(ET.internal, S.context, at.scriptContext)
    shape(at.closureShape)
    // Builtin prototypes are named by their class; a class's by "Object", as V8 names them.
    const builtin = ['Array', 'Map', 'Set', 'Date', 'Object'].includes(c)
    node(T.object, builtin ? S[c] : S.Object, idOf(at[`${c}.proto`]), 24, 3)
    edge(ET.property, S.constructor, at[`${c}.ctor`])
    proto(at.objectProto)
    shape(at.objectShape)
    node(T['object shape'], S['system / Map'], idOf(at[`${c}.shape`]), 40, 3)
    edge(ET.internal, S.map, at.metaMap)
    edge(ET.internal, S.descriptors, at[`${c}.descriptors`])
    edge(ET.internal, S.constructor, at[`${c}.ctor`])
    node(T.code, S[c], idOf(at[`${c}.code`]), 56, 1)
    edge(ET.internal, S.scope_info, at.scopeInfo)
    node(T.array, S['system / DescriptorArray'], idOf(at[`${c}.descriptors`]), 96, 0)
  }
  node(T['object shape'], S['system / Map'], idOf(at.handlersShape), 40, 1)
  edge(ET.internal, S.map, at.metaMap)
  node(T.code, S.onRequest, idOf(at.onRequestCode), 56, 1)
  edge(ET.internal, S.scope_info, at.scopeInfo)
  node(T.code, S.close, idOf(at.closeCode), 56, 1)
  edge(ET.internal, S.scope_info, at.scopeInfo)
  for (const s of sharedNames) {
    node(T.string, s, idOf(shared.get(s)), oneByte(fixed[s].length), 1)
    edge(ET.internal, S.map, at.internalizedShape)
  }
  for (let j = 0; j < TEAMS; j++) string(idOf(team + j), teamBase + j, fixed[teamBase + j].length)

  // -- containers: a Map's table holds key, value pairs from index 5 (numbered internal edges) --
  const mapTable = (id, tableId, selfOrdinal, entries, keyOf, valueOf) => {
    node(T.object, S.Map, id, 32, 3)
    edge(ET.internal, S.table, selfOrdinal + 1)
    proto(at['Map.proto'])
    shape(at['Map.shape'])
    node(T.array, 0, tableId, 24 + 24 * entries, 2 * entries + 1)
    for (let e = 0; e < entries; e++) {
      edge(ET.internal, num(5 + 3 * e), keyOf(e))
      edge(ET.internal, num(6 + 3 * e), valueOf(e))
    }
    shape(at.tableShape)
  }
  // sessions: key is the session's id string (its cons string), value the Session.
  const liveSessions = []
  for (let g = 0; g < sessions; g++) if (alive(g, k)) liveSessions.push(g)
  mapTable(idOf(at.sessions), idOf(at.sessionsTable), at.sessions, liveSessions.length,
    (i) => sessionStart[liveSessions[i]] + 1, (i) => sessionStart[liveSessions[i]])
  // users: every user that was ever created (dead sessions' users stay: they leak too, a little).
  node(T.object, S.Array, idOf(at.users), 32, live + 3)
  for (let i = 0; i < live; i++) edge(ET.element, i, sessionStart[liveSessions[i]] + 4)
  proto(at['Array.proto'])
  edge(ET.internal, S.elements, at.usersElements)
  shape(at['Array.shape'])
  node(T.array, S['(object elements)'], idOf(at.usersElements), 16 + 8 * live, live)
  for (let i = 0; i < live; i++) edge(ET.internal, num(i), sessionStart[liveSessions[i]] + 4)
  const cachedSessions = liveSessions.filter((g) => g % 3 === 0)
  const cacheAt = (g) => sessionStart[g] + unitSize(g) - (g % 2 === 0 ? ORDER_ROW : 0) - 2
  mapTable(idOf(at.cache), idOf(at.cacheTable), at.cache, cachedSessions.length,
    (i) => cacheAt(cachedSessions[i]), (i) => cacheAt(cachedSessions[i]) + 1)
  const orderSessions = liveSessions.filter((g) => g % 2 === 0)
  const orderAt = (g) => sessionStart[g] + unitSize(g) - ORDER_ROW
  node(T.object, S.Array, idOf(at.orderLog), 32, orders + 3)
  for (let i = 0; i < orders; i++) edge(ET.element, i, orderAt(orderSessions[i]))
  proto(at['Array.proto'])
  edge(ET.internal, S.elements, at.orderLogElements)
  shape(at['Array.shape'])
  node(T.array, S['(object elements)'], idOf(at.orderLogElements), 16 + 8 * orders, orders)
  for (let i = 0; i < orders; i++) edge(ET.internal, num(i), orderAt(orderSessions[i]))
  mapTable(idOf(at.records), idOf(at.recordsTable), at.records, records,
    (r) => recordStart[r] + 9, (r) => recordStart[r])
  if (cached !== cachedSessions.length) throw new Error('layout: cache count')

  // -- sessions --
  for (let g = 0; g < sessions; g++) {
    if (!alive(g, k)) continue
    const base = sessionStart[g]
    const str0 = sessionBase + g * PER_SESSION
    const strs = sessionStrings(g)
    const id = (j) => unitId(g, j)
    const cart = 1 + (g % 4)
    // Local ordinals, in the order the nodes are written.
    let o2 = base
    const SESSION = o2++; const ID = o2++; const ID1 = o2++; const ID2 = o2++
    const USER = o2++; const UNAME = o2++; const EMAIL = o2++; const EMAIL1 = o2++
    const ROLES = o2++; const ROLES_TABLE = o2++; const DATE = o2++; const DATE_NUM = o2++
    const ATTRS = o2++; const ATTRS_TABLE = o2++; const CART = o2++; o2++ // cart's elements
    const LINES = o2; o2 += 3 * cart
    const HANDLERS = o2++; const ON_REQUEST = o2++; const ON_CLOSE = o2++; const CONTEXT = o2++
    node(T.object, S.Session, id(0), 72, 8)
    for (const [name, to] of [['id', ID], ['user', USER], ['createdAt', DATE], ['attributes', ATTRS],
      ['cart', CART], ['handlers', HANDLERS]]) edge(ET.property, S[name], to)
    proto(at['Session.proto'])
    shape(at['Session.shape'])
    location(SESSION, 47, 14)
    node(T['concatenated string'], S['(concatenated string)'], id(1), 32, 3)
    edge(ET.internal, S.first, ID1)
    edge(ET.internal, S.second, ID2)
    shape(at.consShape)
    string(id(2), str0, strs[0].length)
    string(id(3), str0 + 1, strs[1].length)
    node(T.object, S.User, id(4), 56, 5)
    edge(ET.property, S.name, UNAME)
    edge(ET.property, S.email, EMAIL)
    edge(ET.property, S.roles, ROLES)
    proto(at['User.proto'])
    shape(at['User.shape'])
    location(USER, 28, 14)
    string(id(5), str0 + 2, strs[2].length)
    node(T['concatenated string'], S['(concatenated string)'], id(6), 32, 3)
    edge(ET.internal, S.first, EMAIL1)
    edge(ET.internal, S.second, shared.get(S['@example.com']))
    shape(at.consShape)
    string(id(7), str0 + 3, strs[3].length)
    node(T.object, S.Set, id(8), 32, 3)
    edge(ET.internal, S.table, ROLES_TABLE)
    proto(at['Set.proto'])
    shape(at['Set.shape'])
    node(T.array, 0, id(9), 96, 4)
    edge(ET.internal, num(3), shared.get(S.reader))
    edge(ET.internal, num(5), shared.get(g % 7 === 0 ? S.admin : S.writer))
    edge(ET.internal, num(7), team + (g % TEAMS))
    shape(at.tableShape)
    node(T.object, S.Date, id(10), 96, 3)
    proto(at['Date.proto'])
    shape(at['Date.shape'])
    edge(ET.hidden, 2, DATE_NUM)
    heapNumber(id(11))
    node(T.object, S.Map, id(12), 32, 3)
    edge(ET.internal, S.table, ATTRS_TABLE)
    proto(at['Map.proto'])
    shape(at['Map.shape'])
    node(T.array, 0, id(13), 152, 6)
    edge(ET.internal, num(5), shared.get(S.locale))
    edge(ET.internal, num(6), shared.get(g % 2 ? S['en-US'] : S['de-DE']))
    edge(ET.internal, num(8), shared.get(S.theme))
    edge(ET.internal, num(9), shared.get(S.dark))
    edge(ET.internal, num(11), shared.get(S.locale))
    shape(at.tableShape)
    const lines = []
    for (let j = 0; j < cart; j++) lines.push(LINES + 3 * j)
    array(id(14), id(15), lines, CART)
    for (let j = 0; j < cart; j++) {
      const line = LINES + 3 * j
      node(T.object, S.OrderLine, id(16 + 3 * j), 40, 4)
      edge(ET.property, S.sku, line + 2)
      edge(ET.property, S.price, line + 1)
      proto(at['OrderLine.proto'])
      shape(at['OrderLine.shape'])
      location(line, 38, 14)
      heapNumber(id(17 + 3 * j))
      // The line's sku: a string of its own whose text many lines share.
      node(T.string, skuBase + ((g + j) % SKUS), id(18 + 3 * j), 32, 1)
      shape(at.stringShape)
    }
    let j = 16 + 3 * cart
    node(T.object, S.Object, id(j++), 40, 4)
    edge(ET.property, S.onRequest, ON_REQUEST)
    edge(ET.property, S.close, ON_CLOSE)
    proto(at.objectProto)
    shape(at.handlersShape)
    for (const [name, code] of [[S.onRequest, at.onRequestCode], [S.close, at.closeCode]]) {
      node(T.closure, name, id(j++), 56, 6)
      proto(at.functionProto)
      edge(ET.internal, S.feedback_cell, at.feedbackCell)
      edge(ET.internal, S.shared, code)
      edge(ET.internal, S.context, CONTEXT)
      edge(ET.internal, S.code, at.lazyCode)
      shape(at.closureShape)
      location(name === S.onRequest ? ON_REQUEST : ON_CLOSE, 53, name === S.onRequest ? 17 : 15)
    }
    node(T.object, S['system / Context'], id(j++), 48, 4)
    edge(ET.context, S.session, SESSION)
    edge(ET.internal, S.scope_info, at.scopeInfo)
    edge(ET.internal, S.previous, at.scriptContext)
    shape(at.contextShape)
    if (g % 3 === 0) {
      string(id(j++), str0 + 4, strs[4].length)
      string(id(j++), str0 + 5, strs[5].length)
    }
    if (g % 2 === 0) {
      const row = orderAt(g)
      // [g, `order-${g}`, { total, lines }]: an array, its elements, a string, an object, a number.
      node(T.object, S.Array, id(j++), 32, 5)
      edge(ET.element, 1, row + 2)
      edge(ET.element, 2, row + 3)
      proto(at['Array.proto'])
      edge(ET.internal, S.elements, row + 1)
      shape(at['Array.shape'])
      node(T.array, S['(object elements)'], id(j++), 40, 2)
      edge(ET.internal, num(1), row + 2)
      edge(ET.internal, num(2), row + 3)
      string(id(j++), str0 + 6, strs[6].length)
      node(T.object, S.Object, id(j++), 32, 3)
      edge(ET.property, S.total, row + 4)
      proto(at.objectProto)
      shape(at.objectShape)
      heapNumber(id(j++))
    }
    if (j !== unitSize(g) || j > MAX_UNIT) throw new Error(`layout: unit ${g} has ${j} nodes, not ${unitSize(g)}`)
  }
  // -- leaked records --
  for (let r = 0; r < records; r++) {
    const base = recordStart[r]
    const str0 = recordBase + r * PER_RECORD
    const strs = recordStrings(r)
    const id = (j) => recordId(r, j)
    node(T.object, S.RequestRecord, id(0), 56, 8)
    edge(ET.property, S.requestId, base + 1)
    edge(ET.property, S.path, base + 2)
    edge(ET.property, S.headers, base + 3)
    edge(ET.property, S.body, base + 5)
    edge(ET.property, S.timings, base + 6)
    edge(ET.property, S.createdAt, base + 8)
    proto(at['RequestRecord.proto'])
    shape(at['RequestRecord.shape'])
    location(base, 62, 14)
    string(id(1), str0, strs[0].length)
    string(id(2), str0 + 1, strs[1].length)
    node(T.object, S.Object, id(3), 40, 5)
    edge(ET.property, S['user-agent'], shared.get(S.bench))
    edge(ET.property, S.accept, shared.get(S['application/json']))
    edge(ET.property, S['x-request-id'], base + 4)
    proto(at.objectProto)
    shape(at.objectShape)
    string(id(4), str0 + 2, strs[2].length)
    string(id(5), str0 + 3, strs[3].length)
    array(id(6), id(7), [], base + 6)
    heapNumber(id(8))
    string(id(9), str0, strs[0].length) // the Map's key: another string with the same text
  }
  return { nodeCount, numbers: 5 + 3 * Math.max(liveSessions.length, records, live) + 16 }
}

function writeSnapshot(file, k) {
  // Pass 1: counts, and a check that every node is followed by the edges it declares.
  let nodes = 0
  let edges = 0
  let locations = 0
  let owed = 0
  const info = layout(k, {
    node(type, name, id, size, ec) {
      if (owed !== 0) throw new Error(`layout: node ${nodes - 1} is owed ${owed} edges`)
      if (![type, name, id, size, ec].every(Number.isSafeInteger)) throw new Error(`layout: node ${nodes}`)
      nodes++
      owed = ec
    },
    edge(type, name, to) {
      if (![type, name, to].every(Number.isSafeInteger)) throw new Error(`layout: edge ${edges}`)
      edges++
      owed--
    },
    location() {
      locations++
    },
  })
  if (owed !== 0) throw new Error('layout: the last node is owed edges')
  if (info.nodeCount !== nodes) throw new Error(`layout: ${nodes} nodes written, ${info.nodeCount} planned`)
  const tmp = `${file}.tmp`
  const fd = fs.openSync(tmp, 'w')
  const w = new Writer(fd)
  const header = { meta: META, node_count: nodes, edge_count: edges, trace_function_count: 0 }
  w.text(`{"snapshot":${JSON.stringify(header)},\n"nodes":[`)
  let first = true
  layout(k, {
    node(type, name, id, size, ec) {
      w.row(first, [type, name, id, size, ec, 0, 0])
      first = false
    },
    edge() {},
    location() {},
  })
  w.text('],\n"edges":[')
  first = true
  layout(k, {
    node() {},
    edge(type, name, to) {
      w.row(first, [type, name, to * NF])
      first = false
    },
    location() {},
  })
  w.text('],\n"trace_function_infos":[],\n"trace_tree":[],\n"samples":[],\n"locations":[')
  first = true
  layout(k, {
    node() {},
    edge() {},
    location(ordinal, line, column) {
      w.row(first, [ordinal * NF, 81, line, column])
      first = false
    },
  })
  w.text('],\n"strings":[')
  const quoted = (s) => (/^[\x20-\x7e]*$/.test(s) && !/["\\]/.test(s) ? `"${s}"` : JSON.stringify(s))
  fixed.forEach((s, i) => w.text(`${i ? '\n,' : ''}${quoted(s)}`))
  for (let g = 0; g < sessions; g++) for (const s of sessionStrings(g)) w.text(`\n,${quoted(s)}`)
  for (let r = 0; r < totalRecords; r++) for (const s of recordStrings(r)) w.text(`\n,${quoted(s)}`)
  for (let i = 0; i < info.numbers; i++) w.text(`\n,"${i}"`)
  w.text(']}\n')
  w.flush()
  fs.closeSync(fd)
  fs.renameSync(tmp, file)
  return { nodes, edges, bytes: w.bytes }
}

fs.mkdirSync(out, { recursive: true })
const files = []
for (let k = 0; k < snapshots; k++) {
  const file = path.resolve(out, `${prefix}-${k + 1}.heapsnapshot`)
  const t0 = performance.now()
  const r = writeSnapshot(file, k)
  console.error(`${file}: ${(r.bytes / 1e6).toFixed(0)} MB, ${r.nodes} nodes, ${r.edges} edges, ` +
    `${((performance.now() - t0) / 1000).toFixed(1)} s`)
  files.push(file)
}
process.stdout.write(JSON.stringify({ files, sessions, leaked: leakPerStep * (snapshots - 1) }) + '\n')
