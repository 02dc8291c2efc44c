// @ts-check
'use strict'

// A sampling heap profile (lib/attribution.js) as pprof's `profile.proto`, gzipped: the format
// `go tool pprof`, Pyroscope/Grafana and Datadog read. The handful of messages needed is
// written here by hand (a protobuf encoder is ~40 lines; a dependency would be larger):
// two sample types, `inuse_objects`/count and `inuse_space`/bytes; one location per node of
// the profile's call tree, leaf first in each sample; one function per (name, file, line,
// column); the string table; period = the sampling interval in bytes.
//
// V8 scales each sample for the chance that sampling missed its object (an object of s bytes
// is sampled with probability 1 - e^(-s/interval)), and the inspector reports the product
// s × count as the sample's `size` — the bytes leakwatch's `topAllocations` sum — so
// `inuse_space` per stack is exactly the bytes `topAllocations` shows for it, and
// `inuse_objects` an estimate (see objectsOf).

const zlib = require('node:zlib')

/** A growable byte buffer with protobuf's wire encodings. */
class Writer {
  buf = new Uint8Array(64)
  length = 0

  /** The bytes written so far (a view, not a copy). */
  get bytes() {
    return this.buf.subarray(0, this.length)
  }

  /** Room for `n` more bytes: the buffer doubles, so writing is linear in the output. @param {number} n */
  reserve(n) {
    if (this.length + n <= this.buf.length) return
    const grown = new Uint8Array(Math.max(this.buf.length * 2, this.length + n))
    grown.set(this.bytes)
    this.buf = grown
  }

  /** @param {number} b a byte */
  byte(b) {
    this.reserve(1)
    this.buf[this.length++] = b
  }

  /** @param {number} n a non-negative integer (exact up to 2^53) */
  varint(n) {
    while (n >= 0x80) {
      this.byte((n % 0x80) | 0x80)
      n = Math.floor(n / 0x80)
    }
    this.byte(n)
    return this
  }

  /** A varint beyond 2^53 (nanoseconds since the epoch). @param {bigint} n */
  bigVarint(n) {
    while (n >= 0x80n) {
      this.byte(Number(n & 0x7fn) | 0x80)
      n >>= 7n
    }
    this.byte(Number(n))
    return this
  }

  /** @param {number} field @param {number} wire */
  key(field, wire) {
    return this.varint(field * 8 + wire)
  }

  /** A varint field, left out when zero (proto3's default). @param {number} field @param {number} n */
  int(field, n) {
    return n === 0 ? this : this.key(field, 0).varint(n)
  }

  /** @param {number} field @param {Uint8Array} bytes */
  lengthDelimited(field, bytes) {
    this.key(field, 2).varint(bytes.length)
    this.reserve(bytes.length)
    this.buf.set(bytes, this.length)
    this.length += bytes.length
    return this
  }

  /** @param {number} field @param {(w: Writer) => void} build */
  message(field, build) {
    const inner = new Writer()
    build(inner)
    return this.lengthDelimited(field, inner.bytes)
  }

  /** A packed repeated varint field. @param {number} field @param {number[]} values */
  packed(field, values) {
    if (values.length === 0) return this
    const inner = new Writer()
    for (const v of values) inner.varint(v)
    return this.lengthDelimited(field, inner.bytes)
  }
}

/**
 * The objects behind one sample, estimated. V8 samples an object of s bytes with probability
 * 1 - e^(-s/interval) and scales it by count = round(1 / that) (SamplingHeapProfiler::
 * ScaleSample), but the inspector reports only the product s × count: this solves
 * s / (1 - e^(-s/interval)) = product for s and returns product / s. Exact for objects of
 * the interval's size and more; for smaller ones the product is close to the interval
 * whatever the size, so their count is only approximate (docs/pprof.md gives the measured
 * error). `inuse_space` is exact either way.
 * @param {number} scaledBytes @param {number} interval
 */
function objectsOf(scaledBytes, interval) {
  if (!(scaledBytes > interval)) return 1
  let lo = 0
  let hi = scaledBytes
  for (let i = 0; i < 50; i++) {
    const mid = (lo + hi) / 2
    if (mid / (1 - Math.exp(-mid / interval)) < scaledBytes) lo = mid
    else hi = mid
  }
  return Math.max(1, Math.round(scaledBytes / hi))
}

/**
 * @typedef {import('./attribution').Profile} Profile
 * @typedef {import('./attribution').ProfileNode} ProfileNode
 */

/**
 * The profile's live samples newer than `sinceOrdinal`, as an uncompressed `profile.proto`.
 * @param {Profile} profile the inspector's HeapProfiler.getSamplingProfile result
 * @param {{ samplingInterval: number, sinceOrdinal?: number, startTime?: number, endTime?: number }} how
 *   startTime / endTime: ms since the epoch (the profile's time and duration)
 */
function encodeProfile(profile, { samplingInterval, sinceOrdinal = 0, startTime, endTime = Date.now() }) {
  /** @type {string[]} */
  const strings = ['']
  /** @type {Map<string, number>} */
  const stringIds = new Map([['', 0]])
  /** @param {string} s */
  const str = (s) => {
    let id = stringIds.get(s)
    if (id === undefined) {
      id = strings.length
      strings.push(s)
      stringIds.set(s, id)
    }
    return id
  }

  // The call tree: each node's parent and its function; (root) itself is no frame.
  /** @type {Map<number, { parent: number | null, functionId: number, line: number }>} */
  const nodes = new Map()
  /** @type {Map<string, { id: number, name: number, file: number, line: number }>} */
  const functions = new Map()
  /** @type {{ node: ProfileNode, parent: number | null }[]} */
  const stack = [{ node: profile.head, parent: null }]
  while (stack.length) {
    const { node, parent } = /** @type {{ node: ProfileNode, parent: number | null }} */ (stack.pop())
    const f = node.callFrame
    const isRoot = parent === null
    if (!isRoot) {
      const name = f.functionName || '(anonymous)'
      const file = f.url || '<unknown>'
      const line = f.lineNumber + 1
      const key = `${name}\0${file}\0${line}\0${f.columnNumber}`
      let fn = functions.get(key)
      if (!fn) {
        fn = { id: functions.size + 1, name: str(name), file: str(file), line }
        functions.set(key, fn)
      }
      nodes.set(node.id, { parent, functionId: fn.id, line })
    }
    for (const child of node.children || []) stack.push({ node: child, parent: isRoot ? -1 : node.id })
  }

  // One pprof sample per node that holds live samples: objects and bytes summed.
  /** @type {Map<number, { objects: number, bytes: number }>} */
  const totals = new Map()
  for (const s of profile.samples) {
    if (s.ordinal <= sinceOrdinal) continue
    const t = totals.get(s.nodeId) || { objects: 0, bytes: 0 }
    t.objects += objectsOf(s.size, samplingInterval)
    t.bytes += s.size
    totals.set(s.nodeId, t)
  }

  const out = new Writer()
  const valueType = (/** @type {string} */ type, /** @type {string} */ unit) => (/** @type {Writer} */ w) => {
    w.int(1, str(type)).int(2, str(unit))
  }
  out.message(1, valueType('inuse_objects', 'count'))
  out.message(1, valueType('inuse_space', 'bytes'))
  for (const [nodeId, { objects, bytes }] of totals) {
    /** @type {number[]} */
    const locations = []
    for (let n = nodes.get(nodeId), id = nodeId; n; id = n.parent ?? -1, n = nodes.get(id)) {
      locations.push(id)
    }
    if (locations.length === 0) continue // a sample on (root): no stack to show
    out.message(2, (w) => w.packed(1, locations).packed(2, [objects, bytes]))
  }
  // Locations share the node ids (unique, positive), one line each.
  for (const [id, n] of nodes) {
    out.message(4, (w) => w.int(1, id).message(4, (line) => line.int(1, n.functionId).int(2, Math.max(0, n.line))))
  }
  for (const fn of functions.values()) {
    out.message(5, (w) => w.int(1, fn.id).int(2, fn.name).int(3, fn.name).int(4, fn.file).int(5, Math.max(0, fn.line)))
  }
  const periodType = valueType('space', 'bytes')
  const end = endTime
  const start = startTime ?? end
  // The string table last: every index above is assigned by now.
  const tail = new Writer()
  tail.key(9, 0).bigVarint(BigInt(Math.round(start)) * 1000000n)
  tail.int(10, Math.max(0, Math.round(end - start)) * 1e6)
  tail.message(11, periodType)
  tail.int(12, samplingInterval)
  tail.int(14, str('inuse_space'))
  for (const s of strings) out.lengthDelimited(6, Buffer.from(s, 'utf8'))
  return Buffer.concat([out.bytes, tail.bytes])
}

/**
 * `encodeProfile`, gzipped (pprof's file format).
 * @param {Profile} profile @param {Parameters<typeof encodeProfile>[1]} how
 */
function gzipProfile(profile, how) {
  return zlib.gzipSync(encodeProfile(profile, how))
}

module.exports = { encodeProfile, gzipProfile, objectsOf }
