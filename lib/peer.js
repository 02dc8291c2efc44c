// @ts-check
'use strict'

// Optional peer dependencies (prom-client, @opentelemetry/api) are the application's own
// copies: resolved from leakwatch's location (the usual hoisted install), then from the
// application's entry point and working directory (linked or nested installs).

const path = require('node:path')
const { createRequire } = require('node:module')
const { withCode } = require('./errors')

/** @param {string} name @param {string} caller what needs it, for the message */
function loadPeer(name, caller) {
  const bases = [__filename]
  if (require.main && require.main.filename) bases.push(require.main.filename)
  bases.push(path.join(process.cwd(), 'index.js'))
  for (const base of bases) {
    let resolved
    try {
      resolved = createRequire(base).resolve(name)
    } catch {
      continue
    }
    return require(resolved)
  }
  throw withCode(Error, 'ERR_LEAKWATCH_PEER_MISSING',
    `leakwatch: ${caller} needs ${name}, an optional peer dependency that is not installed; ` +
      `run \`npm install ${name}\` in the application (or pass the module explicitly)`)
}

module.exports = { loadPeer }
