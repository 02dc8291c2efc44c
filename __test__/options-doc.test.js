'use strict'

// docs/options.md's table is generated from lib/options.js (scripts/options-doc.js): it fails
// here when someone changes an option without regenerating it, and every default the table
// shows is the default start() resolves.

const test = require('node:test')
const assert = require('node:assert/strict')
const fs = require('node:fs')
const { DOC, render } = require('../scripts/options-doc')
const { DEFAULTS, SPEC } = require('../lib/options')
const { binarySize } = require('../lib/bytes')

const doc = fs.readFileSync(DOC, 'utf8')

test('docs/options.md has the table generated from lib/options.js', () => {
  assert.equal(render(doc), doc, 'docs/options.md is out of date: run `npm run docs:options`')
})

test('each default in the table is the resolved default', () => {
  const table = doc.slice(doc.indexOf('<!-- options:start -->'), doc.indexOf('<!-- options:end -->'))
  const rows = new Map([...table.matchAll(/^\| `([\w.]+)` \| `([^`]*)` \|/gm)].map((m) => [m[1], m[2]]))
  const shown = (value, unit) => (typeof value === 'string' ? `'${value}'`
    : typeof value === 'number' && unit === 'bytes' ? binarySize(value) : String(value))
  let compared = 0
  const walk = (spec, resolved, prefix) => {
    for (const [key, entry] of Object.entries(spec)) {
      const name = prefix + key
      const value = resolved === null ? entry.default : resolved[key]
      if (entry.check.spec && entry.table === 'row') {
        const inner = Object.entries(entry.check.spec).map(([k, e]) => `${k}: ${shown(value[k], e.unit)}`)
        assert.equal(rows.get(name), `{ ${inner.join(', ')} }`, name)
        compared++
      } else if (entry.check.spec) {
        if (entry.table === 'rows') assert.equal(rows.get(name), String(entry.default), name)
        walk(entry.check.spec, value, `${name}.`)
      } else {
        assert.equal(rows.get(name), shown(value, entry.unit), name)
        compared++
      }
    }
  }
  // `snapshot` and `diagnose` default to false: their options' defaults are what `{}` resolves to.
  const { resolveOptions } = require('../lib/options')
  const { snapshot, diagnose } = resolveOptions({ snapshot: {}, diagnose: {} })
  walk(SPEC, { ...DEFAULTS, snapshot, diagnose }, '')
  assert.equal(compared, rows.size - 2, 'every row but `snapshot` and `diagnose` themselves compared')
  assert.match(doc, /\(detection\.md#confirmation-gcs\)/)
  assert.match(doc, /\(snapshots\.md\)/)
})
