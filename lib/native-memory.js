// @ts-check
'use strict'

// What malloc holds, for `rss` leaks (glibc's mallinfo2(), through the binding; absent on
// musl and glibc before 2.33). RSS growth outside the JS heap reads three ways: malloc's
// memory in use grew (a native leak: an addon or library keeps allocations), its free memory
// grew (fragmentation: freed chunks malloc keeps, pinned by live neighbours or spread over
// thread arenas — the MALLOC_ARENA_MAX case), or neither (memory malloc does not manage:
// mmap by an addon, code, thread stacks). mallinfo2() takes every arena's lock, so it is read
// once at start() (the reference) and then only when an `rss` leak is reported; each leak is
// compared with the previous reading.

const { formatBytes } = require('./bytes')

/**
 * @typedef {{ inUse: number, free: number, mmapped: number, arena: number }} MallocFigures
 * @typedef {'native-in-use' | 'fragmentation' | 'outside-malloc'} MallocVerdict
 */

class MallocReadings {
  /** @type {import('./native').Binding} */
  #native
  /** @type {(MallocFigures & { time: number }) | null} */
  #previous

  /** @param {import('./native').Binding} native */
  constructor(native) {
    this.#native = native
    this.#previous = this.#read()
  }

  /** mallinfo2() as { inUse (arenas + mmap), free, mmapped, arena }, or null. */
  #read() {
    try {
      const m = typeof this.#native.mallocFigures === 'function' ? this.#native.mallocFigures() : null
      return m ? { inUse: m.inUse + m.mmapped, free: m.free, mmapped: m.mmapped, arena: m.arena, time: Date.now() } : null
    } catch {
      return null
    }
  }

  /**
   * Adds `malloc` to an `rss` leak payload and says in its reason which of the three it is.
   * Leaves the payload as it is where mallinfo2() is missing.
   * @param {{ growth: number, reason: string, malloc?: object }} leak
   */
  explain(leak) {
    const now = this.#read()
    const before = this.#previous
    if (!now) return
    this.#previous = now
    if (!before) return
    const inUseChange = now.inUse - before.inUse
    const freeChange = now.free - before.free
    const verdict = classify(inUseChange, freeChange, leak.growth)
    leak.malloc = {
      inUse: now.inUse,
      free: now.free,
      mmapped: now.mmapped,
      arena: now.arena,
      inUseChange,
      freeChange,
      since: new Date(before.time),
      verdict,
    }
    leak.reason += `; ${sentence(verdict, now, inUseChange, freeChange)}`
  }
}

/**
 * The reading of an RSS growth of `growth` bytes from malloc's changes over the same period
 * or longer: whichever of in-use and free grew more, if it covers a quarter of the growth.
 * @param {number} inUseChange @param {number} freeChange @param {number} growth
 * @returns {MallocVerdict}
 */
function classify(inUseChange, freeChange, growth) {
  const enough = Math.max(growth, 0) / 4
  if (freeChange > inUseChange && freeChange >= enough) return 'fragmentation'
  if (inUseChange >= enough && inUseChange > 0) return 'native-in-use'
  return 'outside-malloc'
}

/** @param {MallocVerdict} verdict @param {MallocFigures} now @param {number} inUseChange @param {number} freeChange */
function sentence(verdict, now, inUseChange, freeChange) {
  const signed = (/** @type {number} */ n) => `${n < 0 ? '-' : '+'}${formatBytes(Math.abs(n))}`
  const figures = `malloc holds ${formatBytes(now.inUse)} in use (${signed(inUseChange)}) and ` +
    `${formatBytes(now.free)} free in its arenas (${signed(freeChange)})`
  if (verdict === 'native-in-use') return `${figures}: native memory in use (a native leak)`
  if (verdict === 'fragmentation') {
    return `${figures}: freed memory malloc keeps (fragmentation; see MALLOC_ARENA_MAX, malloc_trim)`
  }
  return `${figures}: the growth is outside malloc (mmap by native code, code space, thread stacks)`
}

module.exports = { MallocReadings, classify }
