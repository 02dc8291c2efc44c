// @ts-check
'use strict'

// Line ends before a heap snapshot, on the V8 versions that need them.
//
// A heap snapshot records where each function is defined (script, line, column). V8 11
// (Node 20) finds the line of a function by scanning its script's source from the start
// unless the script's line ends were computed before — so a snapshot costs (functions ×
// script length): quadratic in a large single-file script (a bundled server, TypeScript, a
// big library). 40 000 functions in a 9 MB script froze a dump for minutes; a real
// application's heap for more than 13. V8 12 (Node 22) and later compute the line ends
// themselves.
//
// Enabling the debugger makes V8 compute the line ends of every loaded script (it reports
// each script with its line count), and they stay on the script afterwards. So, before a dump
// on V8 11, leakwatch enables and disables the debugger on an in-process inspector session
// (no port is opened); the in-process session answers synchronously, so this runs right
// before the dump, on the same tick. The session stays connected for the life of the isolate:
// disconnecting a session makes V8 clear the heap profiler's object ids, and then objects in
// the next snapshot get new ids and a diff counts every object as new. Measured costs are in
// docs/snapshots.md#line-ends-on-node-20.

const inspector = require('node:inspector')

/** V8's major version in this process. */
const V8_MAJOR = Number(process.versions.v8.split('.')[0])

/** Whether this V8 scans a script's source for every function a snapshot locates. */
const NEEDS_LINE_ENDS = V8_MAJOR < 12

/**
 * `LEAKWATCH_LINE_ENDS=off` skips the step, `=on` runs it on any V8 (diagnostics and
 * bench/snapshot/line-ends.js); unset or anything else: on V8 11 only.
 */
const SWITCH = process.env.LEAKWATCH_LINE_ENDS

/**
 * @typedef {{ ran: boolean, durationMs: number, error?: Error }} LineEndsResult
 * `ran`: the debugger was enabled and disabled; `error`: why it could not be.
 */

/**
 * Makes V8 compute the line ends of all loaded scripts, when it needs them (`force`: on any
 * V8, for measurements). Never throws: a failure (no inspector in this build, a session
 * refused) is returned, and the dump goes ahead without it.
 * @param {{ force?: boolean }} [options]
 * @returns {LineEndsResult}
 */
function prepareLineEnds({ force = false } = {}) {
  const wanted = force || (SWITCH === 'on' || (SWITCH !== 'off' && NEEDS_LINE_ENDS))
  if (!wanted) return { ran: false, durationMs: 0 }
  const started = process.hrtime.bigint()
  const elapsed = () => Number(process.hrtime.bigint() - started) / 1e6
  try {
    if (!session) {
      const connecting = new inspector.Session()
      connecting.connect()
      session = connecting
    }
    call(session, 'Debugger.enable')
    call(session, 'Debugger.disable')
    return { ran: true, durationMs: elapsed() }
  } catch (err) {
    return { ran: false, durationMs: elapsed(), error: /** @type {Error} */ (err) }
  }
}

/**
 * This isolate's session, connected at the first use and never disconnected (see above).
 * @type {inspector.Session | null}
 */
let session = null

// In-process sessions answer synchronously; anything else counts as a failure.
/** @param {inspector.Session} session @param {string} method */
function call(session, method) {
  let answered = false
  /** @type {Error | null} */
  let error = null
  session.post(method, {}, (err) => {
    answered = true
    error = err
  })
  if (!answered) throw new Error(`the inspector did not answer ${method} synchronously`)
  if (error) throw error
}

module.exports = { prepareLineEnds, NEEDS_LINE_ENDS, V8_MAJOR }
