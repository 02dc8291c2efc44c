'use strict'

// The structural shape of small snapshots side by side, to check bench/analyze/generate.js
// against a real V8 dump: bytes per node, edges per node, the share of each node and edge
// type, the sections' share of the file, and leakwatch's largest classes. Reads each file with
// JSON.parse: for files of tens of MB, not the big ones.
//
//   node bench/analyze/shape.js REAL.heapsnapshot GENERATED.heapsnapshot …

const fs = require('node:fs')
const path = require('node:path')
const leakwatch = require('../..')
const { markdownTable } = require('../common')

async function shape(file) {
  const text = fs.readFileSync(file, 'latin1')
  const sections = {}
  for (const key of ['nodes', 'edges', 'locations', 'strings']) sections[key] = text.indexOf(`"${key}":`)
  const order = Object.entries(sections).sort((a, b) => a[1] - b[1])
  const share = {}
  for (let i = 0; i < order.length; i++) {
    const end = i + 1 < order.length ? order[i + 1][1] : text.length
    share[order[i][0]] = (end - order[i][1]) / text.length
  }
  const d = JSON.parse(text)
  const m = d.snapshot.meta
  const nf = m.node_fields.length
  const ef = m.edge_fields.length
  const nodes = d.nodes.length / nf
  const edges = d.edges.length / ef
  const nodeTypes = new Map()
  for (let i = 0; i < d.nodes.length; i += nf) {
    const t = m.node_types[0][d.nodes[i]]
    nodeTypes.set(t, (nodeTypes.get(t) || 0) + 1)
  }
  const edgeTypes = new Map()
  for (let i = 0; i < d.edges.length; i += ef) {
    const t = m.edge_types[0][d.edges[i]]
    edgeTypes.set(t, (edgeTypes.get(t) || 0) + 1)
  }
  const report = await leakwatch.analyze(file, { classes: 5, paths: 0, largest: 0 })
  const pct = (n, of) => `${((100 * n) / of).toFixed(1)} %`
  return {
    file: path.basename(file),
    rows: [
      ['file', `${(text.length / 1e6).toFixed(1)} MB`],
      ['bytes per node', (text.length / nodes).toFixed(1)],
      ['edges per node', (edges / nodes).toFixed(2)],
      ['strings per node', (d.strings.length / nodes).toFixed(2)],
      ...['nodes', 'edges', 'strings', 'locations'].map((k) => [`"${k}" share of the file`, pct(share[k], 1)]),
      ...['object', 'string', 'array', 'closure', 'number', 'concatenated string', 'code', 'hidden', 'object shape']
        .map((t) => [`${t} nodes`, pct(nodeTypes.get(t) || 0, nodes)]),
      ...['internal', 'property', 'element', 'hidden', 'context', 'weak', 'shortcut']
        .map((t) => [`${t} edges`, pct(edgeTypes.get(t) || 0, edges)]),
      ...report.classes.map((c, i) => [`class ${i + 1} by retained size`,
        `${c.name} (${pct(c.retainedSize, report.summary.totalSize)})`]),
    ],
  }
}

;(async () => {
  const shapes = []
  for (const file of process.argv.slice(2)) shapes.push(await shape(file))
  const rows = shapes[0].rows.map((r, i) => [r[0], ...shapes.map((s) => s.rows[i][1])])
  console.log(markdownTable(['', ...shapes.map((s) => s.file)], rows))
})()
