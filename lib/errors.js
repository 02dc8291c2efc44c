'use strict'

// Errors with a stable `code`; every code starts with ERR_LEAKWATCH_.

function withCode(ErrorClass, code, message) {
  const err = new ErrorClass(message)
  err.code = code
  return err
}

const invalidType = (name, expected, value) =>
  withCode(TypeError, 'ERR_LEAKWATCH_INVALID_OPTION',
    `leakwatch: option "${name}" must be ${expected}; received ${describe(value)}`)

const outOfRange = (name, expected, value) =>
  withCode(RangeError, 'ERR_LEAKWATCH_OPTION_OUT_OF_RANGE',
    `leakwatch: option "${name}" must be ${expected}; received ${describe(value)}`)

const unknownOption = (name, known) =>
  withCode(TypeError, 'ERR_LEAKWATCH_UNKNOWN_OPTION',
    `leakwatch: unknown option "${name}"; known options are ${known.join(', ')}`)

const invalidArgument = (name, expected, value) =>
  withCode(TypeError, 'ERR_LEAKWATCH_INVALID_ARGUMENT',
    `leakwatch: ${name} must be ${expected}; received ${describe(value)}`)

/** Checks the options object of a call (`fn`: its name) against its known keys. */
function checkCallOptions(fn, options, known) {
  if (options === null || typeof options !== 'object') {
    throw invalidArgument(`${fn}(options)`, 'an object or undefined', options)
  }
  for (const key of Object.keys(options)) {
    if (!known.includes(key)) {
      throw withCode(TypeError, 'ERR_LEAKWATCH_UNKNOWN_OPTION',
        `leakwatch: unknown option "${key}" of ${fn}(); known options are ${known.join(', ')}`)
    }
  }
}

function describe(value) {
  if (value === null) return 'null'
  if (Array.isArray(value)) return 'an array'
  if (typeof value === 'string') return `the string ${JSON.stringify(value.slice(0, 60))}`
  if (typeof value === 'number') return `the number ${value}`
  if (typeof value === 'function') return 'a function'
  return `a value of type ${typeof value}`
}

module.exports = { withCode, invalidType, outOfRange, unknownOption, invalidArgument, checkCallOptions }
