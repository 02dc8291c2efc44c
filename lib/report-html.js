// @ts-check
'use strict'

// A self-contained HTML page for an analysis report: no external files, no network. Tables
// and SVG charts are rendered here; a small inline script only sorts tables on click.

const { signedBytes, count, edgeText } = require('./report-text')
const { formatBytes: bytes } = require('./bytes')

/** @type {Record<string, string>} */
const ENTITIES = { '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' }
const esc = (/** @type {unknown} */ s) => String(s).replace(/[&<>"']/g, (c) => ENTITIES[c])

const PALETTE = ['#2563eb', '#dc2626', '#16a34a', '#d97706', '#7c3aed', '#0891b2', '#db2777', '#4b5563']

/**
 * @param {string} title @param {{ label: string, value: number }[]} items
 * @param {(n: number) => string} format
 */
function barChart(title, items, format) {
  if (items.length === 0) return ''
  const rowH = 22
  const labelW = 260
  const barW = 420
  const h = items.length * rowH + 30
  const max = Math.max(...items.map((i) => Math.abs(i.value)), 1)
  const rows = items.map((item, i) => {
    const y = 24 + i * rowH
    const w = Math.max(1, Math.round((Math.abs(item.value) / max) * barW))
    const color = item.value < 0 ? '#16a34a' : '#2563eb'
    const label = item.label.length > 40 ? item.label.slice(0, 39) + '…' : item.label
    return `<text x="${labelW - 6}" y="${y + 14}" text-anchor="end">${esc(label)}</text>` +
      `<rect x="${labelW}" y="${y + 3}" width="${w}" height="${rowH - 6}" fill="${color}"><title>${esc(item.label)}: ${esc(format(item.value))}</title></rect>` +
      `<text x="${labelW + w + 6}" y="${y + 14}">${esc(format(item.value))}</text>`
  }).join('')
  return `<figure><svg class="chart" role="img" viewBox="0 0 ${labelW + barW + 110} ${h}" width="100%"><title>${esc(title)}</title>` +
    `<text x="0" y="14" class="ctitle">${esc(title)}</text>${rows}</svg></figure>`
}

/**
 * @param {string} title @param {string[]} labels
 * @param {{ label: string, values: number[] }[]} lines
 */
function lineChart(title, labels, lines) {
  if (lines.length === 0 || labels.length < 2) return ''
  const w = 760
  const h = 300
  const left = 80
  const right = 190
  const top = 30
  const bottom = 40
  const max = Math.max(...lines.flatMap((l) => l.values), 1)
  const x = (/** @type {number} */ i) => left + (i * (w - left - right)) / (labels.length - 1)
  const y = (/** @type {number} */ v) => top + (h - top - bottom) * (1 - v / max)
  const grid = [0, 0.25, 0.5, 0.75, 1].map((f) =>
    `<line x1="${left}" x2="${w - right}" y1="${y(max * f)}" y2="${y(max * f)}" class="grid"/>` +
    `<text x="${left - 6}" y="${y(max * f) + 4}" text-anchor="end">${esc(bytes(max * f))}</text>`).join('')
  const xs = labels.map((l, i) => `<text x="${x(i)}" y="${h - bottom + 18}" text-anchor="middle">${esc(l)}</text>`).join('')
  const series = lines.map((line, k) => {
    const color = PALETTE[k % PALETTE.length]
    const pts = line.values.map((v, i) => `${x(i)},${y(v)}`).join(' ')
    const dots = line.values.map((v, i) =>
      `<circle cx="${x(i)}" cy="${y(v)}" r="3.5" fill="${color}"><title>${esc(line.label)} in ${esc(labels[i])}: ${esc(bytes(v))}</title></circle>`).join('')
    const name = line.label.length > 24 ? line.label.slice(0, 23) + '…' : line.label
    const legend = `<rect x="${w - right + 12}" y="${top + k * 18}" width="10" height="10" fill="${color}"/>` +
      `<text x="${w - right + 28}" y="${top + k * 18 + 9}">${esc(name)}</text>`
    return `<polyline points="${pts}" fill="none" stroke="${color}" stroke-width="2"/>${dots}${legend}`
  }).join('')
  return `<figure><svg class="chart" role="img" viewBox="0 0 ${w} ${h}" width="100%"><title>${esc(title)}</title>` +
    `<text x="0" y="16" class="ctitle">${esc(title)}</text>${grid}${xs}${series}</svg></figure>`
}

/** @param {import('../index').RetainerPath} path */
function pathHtml(path) {
  if (path.unreachable) return '<p class="path">(no retainer path: only weakly reachable)</p>'
  const steps = path.steps.map((s) =>
    `<span class="step"><span class="holder">${esc(s.holder)}</span><span class="edge">${esc(edgeText(s))}</span></span>`)
  steps.push(`<span class="step target">${esc(path.target)} <span class="id">@${path.targetId}</span></span>`)
  return `<p class="path">${path.truncated ? '… ' : ''}${steps.join('<span class="arrow"> → </span>')}</p>`
}

/**
 * @param {string} id @param {{ label: string, num?: boolean }[]} headers
 * @param {{ text: string, num?: number }[][]} rows
 */
function tableHtml(id, headers, rows) {
  const head = headers.map((h, i) =>
    `<th data-col="${i}" data-type="${h.num ? 'num' : 'text'}">${esc(h.label)}</th>`).join('')
  const body = rows.map((r) => `<tr>${r.map((c) =>
    c.num !== undefined
      ? `<td class="num" data-v="${c.num}">${esc(c.text)}</td>`
      : `<td>${esc(c.text)}</td>`).join('')}</tr>`).join('\n')
  return `<table id="${id}" class="sortable"><thead><tr>${head}</tr></thead><tbody>${body}</tbody></table>`
}

const STYLE = `
body{font:14px/1.45 system-ui,-apple-system,Segoe UI,Roboto,sans-serif;margin:24px auto;max-width:1100px;color:#111827;padding:0 16px}
h1{font-size:22px;margin:0 0 4px}h2{font-size:17px;margin:28px 0 8px;border-bottom:1px solid #e5e7eb;padding-bottom:4px}
.cards{display:flex;gap:12px;flex-wrap:wrap;margin:12px 0}.card{border:1px solid #e5e7eb;border-radius:8px;padding:8px 12px;min-width:150px}
.card b{display:block;font-size:18px}.muted{color:#6b7280}
table{border-collapse:collapse;width:100%;font-variant-numeric:tabular-nums}th,td{padding:4px 8px;border-bottom:1px solid #f3f4f6;text-align:left}
th{cursor:pointer;background:#f9fafb;user-select:none}td.num{text-align:right}th[data-type=num]{text-align:right}
.path{font:12px/1.6 ui-monospace,Menlo,Consolas,monospace;background:#f9fafb;border-radius:6px;padding:6px 8px;margin:4px 0 14px;word-break:break-word}
.holder{color:#374151}.edge{color:#2563eb}.target{font-weight:600;color:#b91c1c}.id{color:#6b7280;font-weight:400}
.chart text{font:12px system-ui,sans-serif;fill:#374151}.chart .ctitle{font-weight:600;font-size:13px}.chart .grid{stroke:#e5e7eb}
figure{margin:12px 0}.group h3{font-size:14px;margin:14px 0 2px}
`

const SCRIPT = `
(function(){
  document.querySelectorAll('table.sortable').forEach(function(table){
    table.querySelectorAll('th').forEach(function(th){
      th.addEventListener('click',function(){
        var col=+th.dataset.col,num=th.dataset.type==='num',body=table.tBodies[0];
        var asc=th.dataset.sort!=='asc';th.dataset.sort=asc?'asc':'desc';
        var rows=Array.prototype.slice.call(body.rows);
        rows.sort(function(a,b){
          var x=a.cells[col],y=b.cells[col];
          var c=num?(+x.dataset.v)-(+y.dataset.v):x.textContent.localeCompare(y.textContent);
          return asc?c:-c;
        });
        rows.forEach(function(r){body.appendChild(r)});
      });
    });
  });
  document.body.setAttribute('data-ready','true');
})();
`

/** @param {string} title @param {string} subtitle @param {string} content */
function page(title, subtitle, content) {
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width,initial-scale=1">
<title>${esc(title)}</title><link rel="icon" href="data:,"><style>${STYLE}</style></head>
<body data-ready="false"><h1>${esc(title)}</h1><p class="muted">${esc(subtitle)}</p>
${content}
<script>${SCRIPT}</script></body></html>
`
}

/** @param {string} label @param {string} value */
function card(label, value) {
  return `<div class="card"><span class="muted">${esc(label)}</span><b>${esc(value)}</b></div>`
}

/** @param {import('../index').AnalyzeReport} report */
function analyzeHtml(report) {
  const s = report.summary
  const cards = `<div class="cards">${card('Heap', bytes(s.totalSize))}${card('Objects', count(s.nodeCount))}` +
    `${card('Edges', count(s.edgeCount))}${card('Classes', count(s.classCount))}${card('File', bytes(s.fileBytes))}</div>`
  const chart = barChart('Top classes by retained size',
    report.classes.slice(0, 15).map((c) => ({ label: c.name, value: c.retainedSize })), bytes)
  const classes = tableHtml('classes',
    [{ label: 'Class' }, { label: 'Count', num: true }, { label: 'Self size', num: true },
      { label: 'Retained size', num: true }, { label: 'Distance', num: true }],
    report.classes.map((c) => [{ text: c.name }, { num: c.count, text: count(c.count) },
      { num: c.selfSize, text: bytes(c.selfSize) }, { num: c.retainedSize, text: bytes(c.retainedSize) },
      { num: c.distance, text: String(c.distance) }]))
  const largest = tableHtml('largest',
    [{ label: 'Object' }, { label: 'Type' }, { label: 'Self size', num: true }, { label: 'Retained size', num: true }],
    report.largest.map((o) => [{ text: `${o.name} @${o.id}` }, { text: o.type },
      { num: o.selfSize, text: bytes(o.selfSize) }, { num: o.retainedSize, text: bytes(o.retainedSize) }]))
  const paths = report.classes.filter((c) => c.path).map((c) =>
    `<div class="group"><h3>${esc(c.name)} <span class="muted">retains ${esc(bytes(c.retainedSize))} in ${esc(count(c.count))} objects</span></h3>${pathHtml(/** @type {import('../index').RetainerPath} */ (c.path))}</div>`).join('')
  return page(`Heap snapshot: ${s.file}`, 'leakwatch analyze — sizes as Chrome DevTools computes them',
    `${cards}${chart}<h2>Classes</h2>${classes}<h2>Largest objects</h2>${largest}<h2>Retainer paths</h2>${paths}`)
}

/** @param {import('../index').DiffReport} report */
function diffHtml(report) {
  const snaps = report.snapshots
  const first = snaps[0]
  const last = snaps[snaps.length - 1]
  const t = report.totals
  const cards = `<div class="cards">${card('Heap change', signedBytes(last.totalSize - first.totalSize))}` +
    `${card('New objects', count(t.addedCount))}${card('Deleted objects', count(t.removedCount))}` +
    snaps.map((s, i) => card(`Snapshot ${i + 1}`, bytes(s.totalSize))).join('') + '</div>'
  const labels = snaps.map((_, i) => `#${i + 1}`)
  const across = lineChart('Sizes across the snapshots (self size of the top growing classes)', labels,
    [{ label: 'Total heap', values: snaps.map((s) => s.totalSize) },
      ...report.series.slice(0, 7).map((r) => ({ label: r.name, values: r.selfSize }))])
  const growthChart = barChart('Top growth by class (size delta)',
    report.classes.slice(0, 15).map((r) => ({ label: r.name, value: r.sizeDelta })), signedBytes)
  const growthTable = tableHtml('growth',
    [{ label: 'Class' }, { label: 'New', num: true }, { label: 'Deleted', num: true },
      { label: 'Count delta', num: true }, { label: 'Size delta', num: true }],
    report.classes.map((r) => [{ text: r.name }, { num: r.addedCount, text: count(r.addedCount) },
      { num: r.removedCount, text: count(r.removedCount) }, { num: r.countDelta, text: count(r.countDelta) },
      { num: r.sizeDelta, text: signedBytes(r.sizeDelta) }]))
  const basis = BASIS_TITLES[report.growthBasis]
  const groups = report.growth.length === 0 ? '<p>(nothing)</p>' : report.growth.map((g, i) =>
    `<div class="group"><h3>${i + 1}. ${esc(g.name)} ×${esc(count(g.count))} <span class="muted">retains ${esc(bytes(g.retainedSize))}</span></h3>${pathHtml(g.path)}</div>`).join('')
  return page(`Heap snapshot comparison (${snaps.length} snapshots)`,
    snaps.map((s, i) => `#${i + 1} ${s.file}`).join(' · '),
    `${cards}${across}${growthChart}${snaps.length >= 3 ? growingHtml(report, labels) : ''}` +
    `<h2>Retainer paths — ${esc(basis)}</h2>${groups}<h2>Growth by class</h2>${growthTable}`)
}

/** What `growth` holds, by `growthBasis`. */
const BASIS_TITLES = {
  'new-in-second': 'New in the 2nd snapshot',
  'new-in-second-alive-in-third': 'Allocated between the 1st and 2nd snapshot and still alive in the 3rd',
  'new-in-second-alive-in-last': 'Allocated between the 1st and 2nd snapshot and still alive in the last',
}

/**
 * Three snapshots or more: what grew at every one of them, with its series.
 * @param {import('../index').DiffReport} report @param {string[]} labels
 */
function growingHtml(report, labels) {
  const chart = report.growing.length === 0 ? '' : lineChart('Retained size of the objects growing at every snapshot', labels,
    report.growing.slice(0, 7).map((o) => ({ label: `${o.name} @${o.id}`, values: o.retainedSize })))
  const objects = report.growing.length === 0 ? '<p>(nothing)</p>' : report.growing.map((o, i) =>
    `<div class="group"><h3>${i + 1}. ${esc(o.name)} <span class="id">@${o.id}</span> <span class="muted">+${esc(bytes(o.growth))}: ` +
    `${esc(o.retainedSize.map(bytes).join(' → '))}</span></h3>${pathHtml(o.path)}</div>`).join('')
  const classes = tableHtml('growing-classes',
    [{ label: 'Class' }, { label: 'Count in each snapshot' }, { label: 'Count growth', num: true },
      { label: 'Retained growth', num: true }],
    report.growingClasses.map((c) => [{ text: c.name }, { text: c.count.map(count).join(' → ') },
      { num: c.count[c.count.length - 1] - c.count[0], text: count(c.count[c.count.length - 1] - c.count[0]) },
      { num: c.growth, text: signedBytes(c.growth) }]))
  return `<h2>Growing at every one of the ${labels.length} snapshots</h2>${chart}${objects}` +
    `<h3>Classes whose count grew at every snapshot</h3>${classes}`
}

module.exports = { analyzeHtml, diffHtml }
