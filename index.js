'use strict'

// The public module: the native binding (lib/native.js) under the JavaScript facade
// (lib/leakwatch.js). One instance per isolate: each worker thread loads its own.

const { loadBinding } = require('./lib/native')
const { createLeakwatch } = require('./lib/leakwatch')

module.exports = createLeakwatch(loadBinding())
