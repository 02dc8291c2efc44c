'use strict'

// Helpers shared by the benchmark runners.

/** `--name VALUE` from argv, or `fallback`. */
function option(argv, name, fallback) {
  const i = argv.indexOf(name)
  return i >= 0 ? argv[i + 1] : fallback
}

function median(xs) {
  if (xs.length === 0) return null
  const s = [...xs].sort((a, b) => a - b)
  const m = s.length >> 1
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2
}

/** Runs the async `tasks` (functions), at most `size` at a time; results in task order. */
async function pool(tasks, size) {
  const results = new Array(tasks.length)
  let next = 0
  await Promise.all(Array.from({ length: size }, async () => {
    while (next < tasks.length) {
      const i = next++
      results[i] = await tasks[i]()
    }
  }))
  return results
}

/** A Markdown table with padded columns, as lines of text. */
function markdownTable(header, rows) {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((row) => row[i].length)))
  const line = (cells) => `| ${cells.map((c, i) => c.padEnd(widths[i])).join(' | ')} |`
  return [line(header), `|${widths.map((w) => '-'.repeat(w + 2)).join('|')}|`, ...rows.map(line)].join('\n')
}

module.exports = { option, median, pool, markdownTable }
