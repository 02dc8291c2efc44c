'use strict'

const { invalidType, outOfRange, unknownOption } = require('./errors')

// Every public option of start(), with its default and its check.
const SPEC = {
  // How often the background thread samples RSS and drains pending GC records, ms.
  sampleIntervalMs: { default: 1000, check: integer(10, 3_600_000) },
  // Minimum time between two `stats` events, ms; 0 = after every full GC (as memwatch).
  statsIntervalMs: { default: 0, check: integer(0, 86_400_000) },
  // 'auto': V8 GC callbacks, falling back to perf_hooks if the V8 symbols are missing;
  // 'perf_hooks': always use perf_hooks GC entries.
  gcSource: { default: 'auto', check: oneOf(['auto', 'perf_hooks']) },
}

function integer(min, max) {
  return (name, value) => {
    if (typeof value !== 'number' || Number.isNaN(value)) {
      throw invalidType(name, `an integer between ${min} and ${max}`, value)
    }
    if (!Number.isInteger(value) || value < min || value > max) {
      throw outOfRange(name, `an integer between ${min} and ${max}`, value)
    }
  }
}

function oneOf(choices) {
  const list = choices.map((c) => JSON.stringify(c)).join(' or ')
  return (name, value) => {
    if (typeof value !== 'string') throw invalidType(name, list, value)
    if (!choices.includes(value)) throw outOfRange(name, list, value)
  }
}

/** Validates `options` and returns a complete, frozen options object. */
function resolveOptions(options) {
  if (options === undefined || options === null) options = {}
  if (typeof options !== 'object' || Array.isArray(options)) {
    throw invalidType('options', 'an object', options)
  }
  const known = Object.keys(SPEC)
  for (const name of Object.keys(options)) {
    if (!Object.prototype.hasOwnProperty.call(SPEC, name)) throw unknownOption(name, known)
  }
  const resolved = {}
  for (const name of known) {
    const value = options[name] === undefined ? SPEC[name].default : options[name]
    SPEC[name].check(name, value)
    resolved[name] = value
  }
  return Object.freeze(resolved)
}

const DEFAULTS = Object.freeze(
  Object.fromEntries(Object.entries(SPEC).map(([name, spec]) => [name, spec.default])))

module.exports = { resolveOptions, DEFAULTS }
