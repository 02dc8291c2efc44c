// @ts-check
'use strict'

const fs = require('node:fs')
const path = require('node:path')
const crypto = require('node:crypto')

/**
 * Writes `data` to `target` so that the file appears only when complete: under an
 * unpredictable temporary name beside it, opened with O_EXCL (`wx`: it never follows a
 * symlink planted at that name, nor overwrites a file), then renamed over `target`. On
 * failure the temporary file is removed and the error (its `code` kept, or
 * ERR_LEAKWATCH_REPORT_WRITE) is thrown.
 * @param {string} target @param {string | Uint8Array} data
 */
function writeFileAtomic(target, data) {
  const resolved = path.resolve(target)
  const tmp = `${resolved}.${crypto.randomBytes(8).toString('hex')}.tmp`
  let created = false
  try {
    fs.writeFileSync(tmp, data, { flag: 'wx', mode: 0o644 })
    created = true
    fs.renameSync(tmp, resolved)
  } catch (err) {
    if (created) {
      try { fs.unlinkSync(tmp) } catch { /* already renamed or removed */ }
    }
    const e = /** @type {NodeJS.ErrnoException} */ (err)
    e.code = e.code || 'ERR_LEAKWATCH_REPORT_WRITE'
    throw e
  }
}

module.exports = { writeFileAtomic }
