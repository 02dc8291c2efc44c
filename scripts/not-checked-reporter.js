'use strict'

// A node:test reporter that writes one JSON line per test skipped with notChecked()
// (__test__/helpers.js): what this machine could not check and why. scripts/test.js reads the
// lines back for the closing summary of `npm test`.

const path = require('node:path')

module.exports = async function* notCheckedReporter(source) {
  for await (const event of source) {
    if (event.type !== 'test:pass' && event.type !== 'test:fail') continue
    const { skip, name, file } = event.data
    if (typeof skip === 'string' && skip.startsWith('not checked: ')) {
      yield JSON.stringify({ file: file ? path.basename(file) : null, name, reason: skip.slice('not checked: '.length) }) + '\n'
    }
  }
}
