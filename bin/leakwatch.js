#!/usr/bin/env node
'use strict'

// The leakwatch command: analyse a heap snapshot, or compare two or three of one process.
// Text by default, --json for machines, --html for a self-contained report page.

const fs = require('node:fs')
const path = require('node:path')

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

function parseArgs(argv) {
  const opts = { json: false, html: null, top: 20, progress: true, files: [] }
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]
    if (arg === '--json') opts.json = true
    else if (arg === '--html') {
      if (i + 1 >= argv.length) usageError('--html needs an output file')
      opts.html = argv[++i]
    } else if (arg === '--top') {
      const n = Number(argv[++i])
      if (!Number.isInteger(n) || n < 1) usageError('--top needs a positive integer')
      opts.top = n
    } else if (arg === '--no-progress') opts.progress = false
    else if (arg === '-h' || arg === '--help') opts.help = true
    else if (arg === '-v' || arg === '--version') opts.version = true
    else if (arg.startsWith('-') && arg !== '-') usageError(`unknown option ${arg}`)
    else opts.files.push(arg)
  }
  return opts
}

function progressReporter(enabled) {
  if (!enabled || !process.stderr.isTTY) return undefined
  let last = ''
  const onProgress = (p) => {
    const share = p.bytesTotal > 0 ? Math.floor((100 * p.bytesRead) / p.bytesTotal) : 0
    const line = p.phase === 'reading'
      ? `leakwatch: reading ${p.files > 1 ? `${p.files} snapshots` : 'snapshot'} ${share}% ` +
        `(${(p.bytesRead / 1e6).toFixed(0)} of ${(p.bytesTotal / 1e6).toFixed(0)} MB)`
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

function writeHtml(out, html) {
  const target = path.resolve(out)
  const tmp = `${target}.${process.pid}.tmp`
  try {
    fs.writeFileSync(tmp, html)
    fs.renameSync(tmp, target)
  } catch (err) {
    try { fs.unlinkSync(tmp) } catch { /* not created */ }
    err.code = err.code || 'ERR_LEAKWATCH_REPORT_WRITE'
    throw err
  }
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
  const opts = parseArgs(rest)
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
    writeHtml(opts.html, command === 'analyze' ? html.analyzeHtml(report) : html.diffHtml(report))
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
