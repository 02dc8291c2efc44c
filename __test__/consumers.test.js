'use strict'

// The package as its consumers see it: `require('leakwatch')`, `import ... from 'leakwatch'`
// (resolved by name through package.json "exports", from inside the package's own scope)
// and TypeScript against index.d.ts / index.d.mts with --strict.

const test = require('node:test')
const assert = require('node:assert/strict')
const path = require('node:path')
const { root, runFixture, runCommand, jsonLines } = require('./helpers')

const tsFixture = path.join(__dirname, 'fixtures', 'ts-consumer')
const tsc = path.join(root, 'node_modules', 'typescript', 'bin', 'tsc')

test('CommonJS: require("leakwatch") by name gives the emitter with its API', async () => {
  const r = await runFixture('consumers-cjs.js')
  assert.equal(r.code, 0, r.stderr)
  const [out] = jsonLines(r)
  assert.deepEqual(out, { same: true, api: [], running: true, fullGcs: out.fullGcs })
  assert.ok(out.fullGcs >= 1)
})

test('ES module: default and named imports share the CommonJS instance', async () => {
  const r = await runFixture('consumers-esm.mjs')
  assert.equal(r.code, 0, r.stderr)
  assert.deepEqual(jsonLines(r), [
    { sameInstance: true, sameWatcher: true, named: true, window: 120000 },
    { stopped: true },
  ])
})

test('TypeScript: a --strict consumer type-checks (CJS and ESM), misuse does not', async () => {
  const good = await runCommand(process.execPath, [tsc, '-p', path.join(tsFixture, 'tsconfig.json')])
  assert.equal(good.code, 0, `tsc on the consumers:\n${good.stdout}${good.stderr}`)

  const bad = await runCommand(process.execPath, [tsc, '--strict', '--noEmit', '--module', 'nodenext',
    '--moduleResolution', 'nodenext', '--target', 'es2022', '--types', 'node',
    path.join(tsFixture, 'bad.cts')])
  assert.notEqual(bad.code, 0, 'a misspelled option and payload field must not compile')
  const output = bad.stdout + bad.stderr
  assert.match(output, /bad\.cts\(4,\d+\): error TS\d+: .*'onleak'.*'onLeak'/)
  assert.match(output, /bad\.cts\(5,\d+\): error TS\d+: .*'bytesPerHours'.*'bytesPerHour'/)
  assert.equal(output.match(/error TS/g).length, 2, output)
})
