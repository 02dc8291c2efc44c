'use strict'

// Loads the generated napi-rs binding with an actionable message when it is missing.
let binding
try {
  binding = require('../binding.js')
} catch (cause) {
  const err = new Error(
    'leakwatch: the native addon is not built for this platform ' +
      `(${process.platform}-${process.arch}, Node.js ${process.version}). ` +
      'It builds from source when installed, which needs the Rust toolchain ' +
      '(https://rustup.rs). If the install script did not run (npm with ' +
      '`strict-allow-scripts`, `--ignore-scripts`), approve and rebuild it: ' +
      '`npm install-scripts approve leakwatch && npm rebuild leakwatch`.',
    { cause })
  err.code = 'ERR_LEAKWATCH_NATIVE_MISSING'
  throw err
}

module.exports = binding
