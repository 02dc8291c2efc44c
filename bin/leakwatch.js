#!/usr/bin/env node
'use strict'

// The leakwatch command: analyse a heap snapshot, or compare two or three of one process.
// Text by default, --json for machines, --html for a self-contained report page.

const fs = require('node:fs')
const path = require('node:path')
const { parseArgs } = require('node:util')
const { wholeMegabytes } = require('../lib/bytes')
const { writeFileAtomic } = require('../lib/atomic-file')

const USAGE = `Usage:
  leakwatch analyze FILE [options]        class summary, largest objects, retainer paths
  leakwatch diff A B [C] [options]        growth by class; with C: what was allocated
                                          between A and B and is still alive in C

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
  if (command !== 'analyze' && command !== 'diff') usageError(`unknown command "${command}"`)
  if (command === 'analyze' && opts.files.length !== 1) usageError('analyze takes one snapshot file')
  if (command === 'diff' && (opts.files.length < 2 || opts.files.length > 3)) {
    usageError('diff takes two or three snapshot files')
  }

  const leakwatch = require('..')
  const text = require('../lib/report-text')
  const onProgress = progressReporter(opts.progress)
  const limits = { classes: opts.json || opts.html ? Infinity : opts.top, paths: Math.min(opts.top, 10) }
  let report
  try {
    if (command === 'analyze') {
      report = await leakwatch.analyze(opts.files[0], { ...limits, largest: Math.min(opts.top, 20), onProgress })
    } else {
      const [a, b, c] = opts.files
      const diffOptions = { classes: limits.classes, groups: Math.min(opts.top, 20), onProgress }
      report = c ? await leakwatch.diff(a, b, c, diffOptions) : await leakwatch.diff(a, b, diffOptions)
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
