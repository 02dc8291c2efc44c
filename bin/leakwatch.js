#!/usr/bin/env node
'use strict'

// The leakwatch command: analyse a heap snapshot, compare two or more of one process, or
// write a copy with the string values redacted. Text by default, --json for machines, --html
// for a self-contained report page.

const fs = require('node:fs')
const path = require('node:path')
const { parseArgs } = require('node:util')
const { wholeMegabytes, formatBytes } = require('../lib/bytes')
const { writeFileAtomic } = require('../lib/atomic-file')

const USAGE = `Usage:
  leakwatch analyze FILE [options]        class summary, largest objects, retainer paths
  leakwatch diff A B [C …] [options]      growth by class; with three or more: what was
                                          allocated between A and B and is still alive in
                                          the last, and what grew at every snapshot
  leakwatch redact IN OUT                 copy IN to OUT with every string value replaced
                                          (names, code locations and the graph kept)

Options:
  --json           print the full report as JSON
  --html OUT       also write a self-contained HTML report to OUT
  --top N          rows per table (default 20)
  --no-progress    no progress line on the terminal
  -h, --help       this text
  -v, --version    the version

Exit status: 0 done, 1 the analysis failed (the error code is printed), 2 bad usage.
`

function usageError(message) {
  process.stderr.write(`leakwatch: ${message}\n\n${USAGE}`)
  process.exit(2)
}

// What a missing or ambiguous value of each option says.
const NEEDS_VALUE = { html: '--html needs an output file', top: '--top needs a positive integer' }

/** The options and files after the command; bad usage exits 2 with the usage text. */
function parseOptions(args) {
  let parsed
  try {
    parsed = parseArgs({
      args,
      allowPositionals: true,
      strict: true,
      options: {
        json: { type: 'boolean' },
        html: { type: 'string' },
        top: { type: 'string' },
        'no-progress': { type: 'boolean' },
        help: { type: 'boolean', short: 'h' },
        version: { type: 'boolean', short: 'v' },
      },
    })
  } catch (err) {
    const option = (/'-?-?([\w-]+)/.exec(err.message) || [])[1]
    if (err.code === 'ERR_PARSE_ARGS_INVALID_OPTION_VALUE' && NEEDS_VALUE[option]) usageError(NEEDS_VALUE[option])
    if (err.code === 'ERR_PARSE_ARGS_UNKNOWN_OPTION') usageError(`unknown option ${/'([^']+)'/.exec(err.message)[1]}`)
    usageError(err.message)
  }
  const { values, positionals } = parsed
  let top = 20
  if (values.top !== undefined) {
    top = Number(values.top)
    if (!Number.isInteger(top) || top < 1) usageError(NEEDS_VALUE.top)
  }
  return {
    json: values.json === true,
    html: values.html ?? null,
    top,
    progress: values['no-progress'] !== true,
    help: values.help,
    version: values.version,
    files: positionals,
  }
}

function progressReporter(enabled) {
  if (!enabled || !process.stderr.isTTY) return undefined
  let last = ''
  const onProgress = (p) => {
    const share = p.bytesTotal > 0 ? Math.floor((100 * p.bytesRead) / p.bytesTotal) : 0
    const line = p.phase === 'reading'
      ? `leakwatch: reading ${p.files > 1 ? `${p.files} snapshots` : 'snapshot'} ${share}% ` +
        `(${wholeMegabytes(p.bytesRead)} of ${wholeMegabytes(p.bytesTotal)} MB)`
      : `leakwatch: ${p.phase}…`
    if (line !== last) {
      process.stderr.write(`\r\x1b[K${line}`)
      last = line
    }
  }
  onProgress.clear = () => {
    if (last) process.stderr.write('\r\x1b[K')
  }
  return onProgress
}

async function main() {
  const [command, ...rest] = process.argv.slice(2)
  if (command === '-v' || command === '--version') {
    process.stdout.write(`${require('../package.json').version}\n`)
    return
  }
  if (!command || command === '-h' || command === '--help' || command === 'help') {
    process.stdout.write(USAGE)
    return
  }
  const opts = parseOptions(rest)
  if (opts.help) {
    process.stdout.write(USAGE)
    return
  }
  if (!['analyze', 'diff', 'redact'].includes(command)) usageError(`unknown command "${command}"`)
  if (command === 'analyze' && opts.files.length !== 1) usageError('analyze takes one snapshot file')
  const { MAX_DIFF_SNAPSHOTS } = require('../lib/analysis')
  if (command === 'diff' && (opts.files.length < 2 || opts.files.length > MAX_DIFF_SNAPSHOTS)) {
    usageError(`diff takes 2 to ${MAX_DIFF_SNAPSHOTS} snapshot files`)
  }
  if (command === 'redact') {
    if (opts.files.length !== 2) usageError('redact takes an input and an output file')
    if (opts.html || opts.json) usageError('redact writes a snapshot: --json and --html do not apply')
  }

  const leakwatch = require('..')
  if (command === 'redact') {
    const onProgress = progressReporter(opts.progress)
    let result
    try {
      result = await leakwatch.redact(opts.files[0], opts.files[1], { onProgress })
    } finally {
      if (onProgress) onProgress.clear()
    }
    process.stdout.write(`${path.resolve(result.file)}: ${result.redacted.toLocaleString('en-US')} of ` +
      `${result.strings.toLocaleString('en-US')} strings replaced (${formatBytes(result.fileBytes)})\n`)
    return
  }
  const text = require('../lib/report-text')
  const onProgress = progressReporter(opts.progress)
  const limits = { classes: opts.json || opts.html ? Infinity : opts.top, paths: Math.min(opts.top, 10) }
  let report
  try {
    if (command === 'analyze') {
      report = await leakwatch.analyze(opts.files[0], { ...limits, largest: Math.min(opts.top, 20), onProgress })
    } else {
      const diffOptions = { classes: limits.classes, groups: Math.min(opts.top, 20), onProgress }
      report = await leakwatch.diff(opts.files, diffOptions)
    }
  } finally {
    if (onProgress) onProgress.clear()
  }
  if (opts.html) {
    const html = require('../lib/report-html')
    writeFileAtomic(opts.html, command === 'analyze' ? html.analyzeHtml(report) : html.diffHtml(report))
  }
  if (opts.json) {
    process.stdout.write(JSON.stringify(report, null, 2) + '\n')
  } else {
    process.stdout.write(command === 'analyze'
      ? text.analyzeText(report, { top: opts.top })
      : text.diffText(report, { top: opts.top }))
    if (opts.html) process.stdout.write(`\nHTML report: ${path.resolve(opts.html)}\n`)
  }
}

main().catch((err) => {
  process.stderr.write(`leakwatch: ${err.code ? `${err.code}: ` : ''}${err.message.replace(/^leakwatch: /, '')}\n`)
  process.exitCode = 1
})
