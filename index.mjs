// ES module entry: the same instance as `require('leakwatch')` (one watcher per isolate),
// with its functions as named exports.
import leakwatch from './index.js'

export default leakwatch
export const {
  start, stop, current, gc, writeSnapshot, writeHeapProfile, prometheus, openTelemetry, analyze, diff,
  redact, HeapDiff, defaults, Watcher,
} = leakwatch
