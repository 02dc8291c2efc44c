// @ts-check
'use strict'

// The analysis process of a diagnosis (lib/diagnosis.js): compares the diagnosis's snapshots
// and writes the JSON and HTML reports beside them. It runs apart from the server, at the
// lowest CPU priority, so that the analysis can never stall, crash or exhaust the server's
// process: the server only reads the JSON it leaves.
//
//   node diagnosis-child.js '{"files":[…],"json":"…/report.json","html":"…/report.html"}'
//
// Exit 0 when both reports are written; otherwise 1, with `{ code, message }` on stderr.

const os = require('node:os')

// Started with an IPC channel by the server: when the server ends, so does this analysis —
// cancelled first, since exiting waits for the threadpool's work. The channel itself does not
// keep this process alive once the reports are written.
const cancel = new AbortController()
process.on('disconnect', () => {
  cancel.abort()
  process.exit(2)
})
if (process.channel) process.channel.unref()

async function main() {
  try {
    // Threads started from here on (the analyser's) inherit the priority.
    os.setPriority(0, os.constants.priority.PRIORITY_LOW)
  } catch {
    // Not permitted here: the parent has set it on this process already, or it stays normal.
  }
  const job = JSON.parse(process.argv[2])
  const leakwatch = require('..')
  const { diffHtml } = require('./report-html')
  const { writeFileAtomic } = require('./atomic-file')
  const started = process.hrtime.bigint()
  const limits = { classes: job.classes, groups: job.groups, signal: cancel.signal }
  const [a, b, c] = job.files
  const report = c ? await leakwatch.diff(a, b, c, limits) : await leakwatch.diff(a, b, limits)
  const analysisMs = Number(process.hrtime.bigint() - started) / 1e6
  writeFileAtomic(job.json, JSON.stringify(report))
  writeFileAtomic(job.html, diffHtml(report))
  process.stdout.write(`${JSON.stringify({ analysisMs })}\n`)
}

main().catch((err) => {
  process.stderr.write(`${JSON.stringify({ code: err.code || 'ERR_LEAKWATCH_DIAGNOSIS_ANALYSIS', message: String(err.message) })}\n`)
  process.exitCode = 1
})
