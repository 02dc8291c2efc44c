// @ts-check
'use strict'

// Errors with a stable `code`; every code starts with ERR_LEAKWATCH_.

/**
 * @template {ErrorConstructor | TypeErrorConstructor | RangeErrorConstructor} C
 * @param {C} ErrorClass @param {string} code @param {string} message
 * @returns {CodedError<InstanceType<C>>}
 */
function withCode(ErrorClass, code, message) {
  const err = /** @type {CodedError<InstanceType<C>>} */ (new ErrorClass(message))
  err.code = code
  return err
}

/**
 * An error with a stable `code` and the details of its case (`errno`, `file`, `trigger`, …).
 * @template {Error} [E=Error]
 * @typedef {E & { code: string, [detail: string]: any }} CodedError
 */
/** @typedef {(name: string, expected: string, value: unknown) => CodedError} OptionError */

/** @type {OptionError} */
const invalidType = (name, expected, value) =>
  withCode(TypeError, 'ERR_LEAKWATCH_INVALID_OPTION',
    `leakwatch: option "${name}" must be ${expected}; received ${describe(value)}`)

/** @type {OptionError} */
const outOfRange = (name, expected, value) =>
  withCode(RangeError, 'ERR_LEAKWATCH_OPTION_OUT_OF_RANGE',
    `leakwatch: option "${name}" must be ${expected}; received ${describe(value)}`)

const unknownOption = (/** @type {string} */ name, /** @type {string[]} */ known) =>
  withCode(TypeError, 'ERR_LEAKWATCH_UNKNOWN_OPTION',
    `leakwatch: unknown option "${name}"; known options are ${known.join(', ')}`)

/** @type {OptionError} */
const invalidArgument = (name, expected, value) =>
  withCode(TypeError, 'ERR_LEAKWATCH_INVALID_ARGUMENT',
    `leakwatch: ${name} must be ${expected}; received ${describe(value)}`)

/**
 * Checks the options object of a call (`fn`: its name) against its known keys.
 * @param {string} fn @param {unknown} options @param {string[]} known
 */
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

/** @param {unknown} value */
function describe(value) {
  if (value === null) return 'null'
  if (Array.isArray(value)) return 'an array'
  if (typeof value === 'string') return `the string ${JSON.stringify(value.slice(0, 60))}`
  if (typeof value === 'number') return `the number ${value}`
  if (typeof value === 'function') return 'a function'
  return `a value of type ${typeof value}`
}

module.exports = { withCode, invalidType, outOfRange, unknownOption, invalidArgument, checkCallOptions }
