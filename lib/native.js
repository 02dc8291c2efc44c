'use strict'

// Loads the generated napi-rs binding with an actionable message when it is missing.
let binding
try {
  binding = require('../binding.js')
} catch (cause) {
  const err = new Error(
    'leakwatch: the native addon is not built for this platform ' +
      `(${process.platform}-${process.arch}, Node.js ${process.version}). ` +
      'It builds from source on install and needs the Rust toolchain (https://rustup.rs); ' +
      'run `npm rebuild leakwatch` after installing it.',
    { cause })
  err.code = 'ERR_LEAKWATCH_NATIVE_MISSING'
  throw err
}

module.exports = binding
