'use strict'

// Redaction on a real snapshot with secrets planted in the heap (fixtures/redact-secrets.js):
// none of them survives, the analysis of the copy is the original's, a text also used as a
// property name is kept (the documented rule), bad input fails with a snapshot code and
// leaves no file behind.

const { test, before, after } = require('node:test')
const assert = require('node:assert')
const fs = require('node:fs')
const os = require('node:os')
const path = require('node:path')
const leakwatch = require('..')
const { root, runCommand, jsonLines } = require('./helpers')
const corrupt = require('./fixtures/corrupt')

const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'leakwatch-redact-'))
after(() => fs.rmSync(dir, { recursive: true, force: true }))
let planted

before(async () => {
  const res = await runCommand(process.execPath, [path.join(__dirname, 'fixtures/redact-secrets.js'), dir])
  assert.strictEqual(res.code, 0, res.stderr)
  planted = jsonLines(res)[0]
})

const ALL = { classes: Infinity, paths: Infinity, largest: 50 }

test('no planted secret survives; classes, sizes and retainer paths are the original\'s', async () => {
  const out = path.join(dir, 'redacted.heapsnapshot')
  const result = await leakwatch.redact(planted.file, out)
  assert.strictEqual(result.file, out)
  assert.strictEqual(result.fileBytes, fs.statSync(out).size)
  assert.ok(result.redacted > 100 && result.redacted < result.strings, `${result.redacted} of ${result.strings}`)
  const original = fs.readFileSync(planted.file)
  const redacted = fs.readFileSync(out)
  assert.strictEqual(planted.secrets.length, 10)
  for (const secret of planted.secrets) {
    assert.ok(original.includes(secret), `planted: ${secret} is in the original snapshot`)
    assert.ok(!redacted.includes(secret), `${secret} survives redaction`)
    // Nor any 16 hex digits of its random part.
    for (const hex of secret.match(/[0-9a-f]{16,}/g)) {
      assert.ok(!redacted.includes(hex.slice(0, 16)) && !redacted.includes(hex.slice(-16)), secret)
    }
  }
  // The same text as a value and as a property name: kept, as a name.
  assert.ok(redacted.includes(planted.sharedName))
  assert.match(redacted.toString('latin1'), /"<redacted 32-63>"/)
  const before = await leakwatch.analyze(planted.file, ALL)
  const after = await leakwatch.analyze(out, ALL)
  assert.ok(before.classes.length > 100)
  assert.deepStrictEqual(after.classes, before.classes)
  assert.deepStrictEqual(after.largest, before.largest)
  const { file: _a, fileBytes: _b, ...summary } = before.summary
  const { file: _c, fileBytes: _d, ...redactedSummary } = after.summary
  assert.deepStrictEqual(redactedSummary, summary)
  assert.ok(before.classes.some((c) => c.name === 'Credentials'), 'class names are kept')
  assert.ok(before.classes.some((c) => c.path && c.path.steps.some((s) => s.edge === 'credentials')), 'property names are kept')
  // Only the input and the output in the directory: no temporary file left.
  assert.deepStrictEqual(fs.readdirSync(dir).filter((f) => f.includes('redact')).sort(), ['redacted.heapsnapshot'])
})

test('leakwatch redact IN OUT', async () => {
  const out = path.join(dir, 'cli.heapsnapshot')
  const bin = path.join(root, 'bin/leakwatch.js')
  const res = await runCommand(process.execPath, [bin, 'redact', planted.file, out, '--no-progress'])
  assert.strictEqual(res.code, 0, res.stderr)
  assert.match(res.stdout, /cli\.heapsnapshot: [\d,]+ of [\d,]+ strings replaced \([\d.]+ [kM]B\)\n$/)
  assert.ok(!fs.readFileSync(out).includes(planted.secrets[0]))
  for (const args of [['redact', planted.file], ['redact', planted.file, out, '--json']]) {
    const bad = await runCommand(process.execPath, [bin, ...args])
    assert.strictEqual(bad.code, 2, args.join(' '))
    assert.match(bad.stderr, /^leakwatch: redact /)
  }
  const missing = await runCommand(process.execPath, [bin, 'redact', path.join(dir, 'nope.heapsnapshot'), out])
  assert.strictEqual(missing.code, 1)
  assert.match(missing.stderr, /^leakwatch: ERR_LEAKWATCH_SNAPSHOT_READ: /)
})

test('bad input rejects with a snapshot code and leaves no file; the faults analyze sees survive', async () => {
  const corpus = path.join(__dirname, 'fixtures/snapshots')
  const outDir = fs.mkdtempSync(path.join(dir, 'corpus-'))
  const codes = new Map()
  const check = async (input, label) => {
    const out = path.join(outDir, 'out.heapsnapshot')
    let analyzed = 'ok'
    try {
      await leakwatch.analyze(input, { classes: 1, paths: 0, largest: 0 })
    } catch (err) {
      analyzed = err.code
    }
    try {
      await leakwatch.redact(input, out)
      codes.set('ok', (codes.get('ok') || 0) + 1)
      // A copy is only made of what parses; the analysis of the copy fails as the original's.
      let copy = 'ok'
      try {
        await leakwatch.analyze(out, { classes: 1, paths: 0, largest: 0 })
      } catch (err) {
        copy = err.code
      }
      assert.strictEqual(copy, analyzed, label)
      fs.unlinkSync(out)
    } catch (err) {
      if (err.code === undefined || err.code.startsWith('ERR_ASSERTION')) throw err
      assert.match(err.code, /^ERR_LEAKWATCH_SNAPSHOT_(EMPTY|TRUNCATED|SYNTAX|META|RANGE|TOO_LARGE)$/, `${label}: ${err.stack}`)
      assert.notStrictEqual(analyzed, 'ok', `${label}: analyze accepts what redact refused (${err.code})`)
      codes.set(err.code, (codes.get(err.code) || 0) + 1)
    }
    assert.deepStrictEqual(fs.readdirSync(outDir), [], `${label}: no file left`)
  }
  for (const name of fs.readdirSync(corpus)) await check(path.join(corpus, name), name)
  const mutants = corrupt.mutations(fs.readFileSync(planted.file, 'utf8'), 30, 7)
  for (const [i, mutant] of mutants.entries()) {
    const input = path.join(dir, `mutant-${i}.heapsnapshot`)
    fs.writeFileSync(input, mutant)
    await check(input, `mutant ${i}`)
    fs.unlinkSync(input)
  }
  for (const code of ['TRUNCATED', 'SYNTAX', 'RANGE']) {
    assert.ok(codes.get(`ERR_LEAKWATCH_SNAPSHOT_${code}`) > 0, `no ${code} among ${[...codes]}`)
  }
  assert.ok(codes.get('ok') > 0)
})

test('arguments, options, abort and an output that cannot be written', async () => {
  await assert.rejects(leakwatch.redact(planted.file), { code: 'ERR_LEAKWATCH_INVALID_ARGUMENT', name: 'TypeError' })
  await assert.rejects(leakwatch.redact(42, 'x'), { code: 'ERR_LEAKWATCH_INVALID_ARGUMENT' })
  await assert.rejects(leakwatch.redact(planted.file, path.join(dir, 'x'), { classes: 1 }), { code: 'ERR_LEAKWATCH_UNKNOWN_OPTION' })
  await assert.rejects(leakwatch.redact(planted.file, path.join(dir, 'x'), { signal: AbortSignal.abort() }),
    { code: 'ERR_LEAKWATCH_ABORTED', name: 'AbortError' })
  await assert.rejects(leakwatch.redact(planted.file, path.join(dir, 'no', 'such', 'dir', 'out.heapsnapshot')),
    { code: 'ERR_LEAKWATCH_SNAPSHOT_WRITE', errno: 'ENOENT' })
  // Into a directory: the rename fails and the temporary file goes.
  const target = fs.mkdtempSync(path.join(dir, 'target-'))
  await assert.rejects(leakwatch.redact(planted.file, target), { code: 'ERR_LEAKWATCH_SNAPSHOT_WRITE' })
  assert.deepStrictEqual(fs.readdirSync(dir).filter((f) => f.endsWith('.redacting')), [])
  assert.ok(!fs.existsSync(path.join(dir, 'x')))
})
