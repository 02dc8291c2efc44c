// @ts-check
'use strict'

// Loads the generated napi-rs binding with an actionable message when it is missing. The
// rest of lib/ never requires it: index.js hands it to createLeakwatch() (lib/leakwatch.js),
// so the facade also runs on a fake binding in the unit tests.

/**
 * The native binding (napi build writes binding.js and binding.d.ts).
 * @typedef {typeof import('../binding')} Binding
 */
/** One isolate's native watcher. @typedef {import('../binding').NativeWatcher} Monitor */
/** How a native dump ended. @typedef {import('../binding').SnapshotOutcome} SnapshotOutcome */
/**
 * A dump's outcome read by its status: which fields are present depends on `status`, which
 * the binding's type does not say, so they are read untyped.
 * @typedef {{ [K in keyof SnapshotOutcome]: any }} OutcomeFields
 */

/** @returns {Binding} */
function loadBinding() {
  try {
    return require('../binding.js')
  } catch (cause) {
    const err = new Error(
      'leakwatch: the native addon is not built for this platform ' +
        `(${process.platform}-${process.arch}, Node.js ${process.version}). ` +
        'It builds from source when installed, which needs the Rust toolchain ' +
        '(https://rustup.rs). If the install script did not run (npm with ' +
        '`strict-allow-scripts`, `--ignore-scripts`), approve and rebuild it: ' +
        '`npm install-scripts approve leakwatch && npm rebuild leakwatch`.',
      { cause })
    Object.assign(err, { code: 'ERR_LEAKWATCH_NATIVE_MISSING' })
    throw err
  }
}

module.exports = { loadBinding }
