// @ts-check
'use strict'

// Plain-text rendering of analysis reports for the CLI.

const { formatBytes: bytes } = require('./bytes')

/** @typedef {import('../index').AnalyzeReport} AnalyzeReport */
/** @typedef {import('../index').DiffReport} DiffReport */
/** @typedef {import('../index').RetainerPath} RetainerPath */
/** @typedef {import('../index').RetainerStep} RetainerStep */
/** @typedef {import('../index').SnapshotSummary} SnapshotSummary */

// C0 and C1 controls, DEL, and the bidirectional formatting characters (LRM/RLM/ALM,
// embeddings, overrides, isolates) and line/paragraph separators. Names come from the
// snapshot, i.e. from the program that was dumped: printed raw, an ESC or BEL sequence in a
// class name could retitle, recolour or clear the reader's terminal, and a U+202E reverse
// the rest of the line. JSON and HTML output escape on their own.
const UNSAFE = /[\u0000-\u001f\u007f-\u009f\u061c\u200e\u200f\u2028-\u202e\u2066-\u2069]/g

/**
 * Text from a snapshot made safe for a terminal: each control or bidi character becomes a
 * visible escape (`\x1b`, `\u202e`).
 * @param {string} text
 */
function terminalSafe(text) {
  return String(text).replace(UNSAFE, (c) => {
    const code = /** @type {number} */ (c.codePointAt(0))
    return code <= 0xff ? `\\x${code.toString(16).padStart(2, '0')}` : `\\u${code.toString(16).padStart(4, '0')}`
  })
}

const signedBytes = (/** @type {number} */ n) => (n > 0 ? '+' : '') + bytes(n)
const count = (/** @type {number} */ n) => n.toLocaleString('en-US')
const signedCount = (/** @type {number} */ n) => (n > 0 ? '+' : '') + count(n)

/** One step of a retainer path the way DevTools writes edges. @param {RetainerStep} step */
function edgeText(step) {
  const name = step.edge
  switch (step.edgeType) {
    case 'property':
    case 'shortcut':
      return /^[A-Za-z_$][\w$]*$/.test(name) ? `.${name}` : `[${JSON.stringify(name)}]`
    case 'element':
      return `[${name}]`
    case 'context':
      return `->${name}`
    case 'weak':
      return `[[${name}]]`
    default:
      return `{${name}}`
  }
}

/** @param {RetainerPath} path @param {string} indent */
function pathLines(path, indent) {
  if (path.unreachable) return [`${indent}(no retainer path: only weakly reachable)`]
  const parts = path.steps.map((s) => terminalSafe(`${s.holder}${edgeText(s)}`))
  parts.push(`${terminalSafe(path.target)} @${path.targetId}`)
  const lines = []
  if (path.truncated) lines.push(`${indent}… (longer path, the nearest steps shown)`)
  let line = indent
  for (const [i, part] of parts.entries()) {
    const piece = i === 0 ? part : ` → ${part}`
    if (line.length + piece.length > 100 && line.trim().length > 0) {
      lines.push(line)
      line = `${indent}  ${piece.trimStart()}`
    } else {
      line += piece
    }
  }
  lines.push(line)
  return lines
}

/**
 * @param {string[]} headers @param {(string | number)[][]} rows
 * @param {('l' | 'r')[]} align
 */
function table(headers, rows, align) {
  const widths = headers.map((h, i) => Math.max(h.length, ...rows.map((r) => String(r[i]).length)))
  const fmt = (/** @type {(string | number)[]} */ cells) => cells.map((c, i) => {
    const s = String(c)
    return align[i] === 'r' ? s.padStart(widths[i]) : s.padEnd(widths[i])
  }).join('  ').trimEnd()
  return [fmt(headers), ...rows.map(fmt)].map((l) => `  ${l}`)
}

/** @param {SnapshotSummary} s */
function summaryLine(s) {
  return `${terminalSafe(s.file)}: ${count(s.nodeCount)} nodes, ${count(s.edgeCount)} edges, ` +
    `heap ${bytes(s.totalSize)} (file ${bytes(s.fileBytes)})`
}

/** @param {AnalyzeReport} report @param {{ top?: number }} [options] */
function analyzeText(report, options = {}) {
  const top = options.top ?? 20
  const out = [summaryLine(report.summary), '']
  out.push(`Top classes by retained size (${count(report.summary.classCount)} classes)`)
  out.push(...table(['Retained', 'Self', 'Count', 'Class'],
    report.classes.slice(0, top).map((c) => [bytes(c.retainedSize), bytes(c.selfSize), count(c.count), terminalSafe(c.name)]),
    ['r', 'r', 'r', 'l']))
  if (report.largest.length) {
    out.push('', 'Largest objects')
    out.push(...table(['Retained', 'Self', 'Object'],
      report.largest.map((o) => [bytes(o.retainedSize), bytes(o.selfSize), `${terminalSafe(o.name)} @${o.id}`]),
      ['r', 'r', 'l']))
  }
  const withPaths = report.classes.filter((c) => c.path)
  if (withPaths.length) {
    out.push('', 'Retainer paths (largest instance of each top class)')
    for (const c of withPaths) {
      out.push(`  ${terminalSafe(c.name)} — retains ${bytes(c.retainedSize)} in ${count(c.count)} objects`)
      out.push(...pathLines(/** @type {RetainerPath} */ (c.path), '    '))
    }
  }
  return out.join('\n') + '\n'
}

/** @param {DiffReport} report @param {{ top?: number }} [options] */
function diffText(report, options = {}) {
  const top = options.top ?? 20
  const snaps = report.snapshots
  const first = snaps[0]
  const last = snaps[snaps.length - 1]
  const out = snaps.map((s, i) => `${i + 1}. ${summaryLine(s)}`)
  const t = report.totals
  out.push('', `From the first to the last snapshot: heap ${signedBytes(last.totalSize - first.totalSize)}; ` +
    `${count(t.addedCount)} objects new (${bytes(t.addedSize)}), ${count(t.removedCount)} deleted (${bytes(t.removedSize)})`)
  out.push('', 'Top growth by class')
  out.push(...table(['Size Δ', 'Count Δ', 'New', 'Deleted', 'Class'],
    report.classes.slice(0, top).map((r) => [signedBytes(r.sizeDelta), signedCount(r.countDelta),
      count(r.addedCount), count(r.removedCount), terminalSafe(r.name)]),
    ['r', 'r', 'r', 'r', 'l']))
  out.push('')
  out.push(BASIS_TITLES[report.growthBasis])
  if (report.growth.length === 0) out.push('  (nothing)')
  for (const [i, g] of report.growth.entries()) {
    out.push(`  ${i + 1}. ${terminalSafe(g.name)} ×${count(g.count)} — retains ${bytes(g.retainedSize)} (self ${bytes(g.selfSize)})`)
    out.push(...pathLines(g.path, '     '))
  }
  if (snaps.length >= 3) {
    out.push('', `Growing at every one of the ${snaps.length} snapshots: objects by retained size`)
    if (report.growing.length === 0) out.push('  (nothing)')
    for (const [i, o] of report.growing.slice(0, top).entries()) {
      out.push(`  ${i + 1}. ${terminalSafe(o.name)} @${o.id} +${bytes(o.growth)} — retained ${o.retainedSize.map(bytes).join(' → ')}`)
      out.push(...pathLines(o.path, '     '))
    }
    out.push('', `Growing at every one of the ${snaps.length} snapshots: classes by count`)
    if (report.growingClasses.length === 0) out.push('  (nothing)')
    for (const [i, c] of report.growingClasses.slice(0, top).entries()) {
      out.push(`  ${i + 1}. ${terminalSafe(c.name)} — count ${c.count.map(count).join(' → ')}; ` +
        `retained ${signedBytes(c.growth)}`)
      out.push(...pathLines(c.path, '     '))
    }
  }
  return out.join('\n') + '\n'
}

/** What `growth` holds, by `growthBasis`. */
const BASIS_TITLES = {
  'new-in-second': 'New in the 2nd snapshot, by retainer path',
  'new-in-second-alive-in-third': 'Still alive: allocated between the 1st and 2nd snapshot and alive in the 3rd, by retainer path',
  'new-in-second-alive-in-last': 'Still alive: allocated between the 1st and 2nd snapshot and alive in the last, by retainer path',
}

module.exports = { analyzeText, diffText, signedBytes, count, edgeText, terminalSafe }
