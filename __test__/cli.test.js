'use strict'

// The leakwatch command: text, --json, --html (opened in a real headless Chromium, the one the
// devDependency @sparticuz/chromium ships, see browser.js), exit codes, progress on a terminal.

const { test, before, after } = require('node:test')
const assert = require('node:assert')
const fs = require('node:fs')
const os = require('node:os')
const path = require('node:path')
const { spawnSync } = require('node:child_process')
const { pathToFileURL } = require('node:url')
const leakwatch = require('..')
const { root, runCommand, jsonLines, notChecked } = require('./helpers')
const { findChromium, launch, openPage } = require('./browser')

const cli = path.join(root, 'bin', 'leakwatch.js')
const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'leakwatch-cli-'))
after(() => fs.rmSync(dir, { recursive: true, force: true }))
let shapes

before(async () => {
  const res = await runCommand(process.execPath, [path.join(__dirname, 'fixtures/heap-shapes.js'), dir, '3'])
  assert.strictEqual(res.code, 0, res.stderr)
  shapes = jsonLines(res)[0].files
})

const run = (args, options) => runCommand(process.execPath, [cli, ...args], options)

test('analyze prints a readable summary', async () => {
  const res = await run(['analyze', shapes[2], '--top', '8'])
  assert.strictEqual(res.code, 0, res.stderr)
  assert.match(res.stdout, /shapes-3\.heapsnapshot: [\d,]+ nodes, [\d,]+ edges, heap [\d.]+ MB/)
  assert.match(res.stdout, /Top classes by retained size/)
  assert.match(res.stdout, /Largest objects/)
  assert.match(res.stdout, /Retainer paths/)
  assert.match(res.stdout, / → /)
  const tableRows = res.stdout.split('Largest objects')[0].split('\n').filter((l) => /^\s+[\d.]+ (B|kB|MB)/.test(l))
  assert.strictEqual(tableRows.length, 8)
})

test('diff of three snapshots prints growth and the paths of what is still alive', async () => {
  const res = await run(['diff', ...shapes])
  assert.strictEqual(res.code, 0, res.stderr)
  assert.match(res.stdout, /^1\. .*shapes-1/m)
  assert.match(res.stdout, /^3\. .*shapes-3/m)
  assert.match(res.stdout, /Top growth by class/)
  assert.match(res.stdout, /Still alive: allocated between the 1st and 2nd snapshot and alive in the 3rd/)
  assert.match(res.stdout, /^ {2}1\. \S.* ×[\d,]+ — retains/m)
})

test('--json prints the same report the API returns', async () => {
  const res = await run(['diff', shapes[0], shapes[1], '--json'])
  assert.strictEqual(res.code, 0, res.stderr)
  const printed = JSON.parse(res.stdout)
  const api = await leakwatch.diff(shapes[0], shapes[1], { classes: Infinity, groups: 20 })
  assert.deepStrictEqual(printed.classes, api.classes)
  assert.deepStrictEqual(printed.totals, api.totals)
  assert.deepStrictEqual(printed.growth.map((g) => [g.name, g.count]), api.growth.map((g) => [g.name, g.count]))
})

test('bad usage exits 2, a failed analysis exits 1 with the code', async () => {
  for (const args of [[], ['diff', shapes[0]], ['analyze'], ['analyze', shapes[0], '--bogus'], ['frobnicate', 'x']]) {
    const res = await run(args)
    if (args.length === 0) {
      assert.strictEqual(res.code, 0)
      assert.match(res.stdout, /Usage:/)
    } else {
      assert.strictEqual(res.code, 2, args.join(' '))
      assert.match(res.stderr, /Usage:/)
    }
  }
  const res = await run(['analyze', path.join(__dirname, 'fixtures/snapshots/truncated-in-nodes.heapsnapshot')])
  assert.strictEqual(res.code, 1)
  assert.match(res.stderr, /^leakwatch: ERR_LEAKWATCH_SNAPSHOT_TRUNCATED: .*truncated-in-nodes\.heapsnapshot: the file ends/)
  const version = await run(['--version'])
  assert.strictEqual(version.stdout.trim(), require('../package.json').version)
})

// util-linux's `script` gives the command a pseudo-terminal; Node cannot open one itself.
const hasScript = spawnSync('script', ['--version']).status === 0

test('progress is shown on a terminal and not in a pipe', async (t) => {
  const piped = await run(['analyze', shapes[2]])
  assert.doesNotMatch(piped.stderr, /leakwatch: (reading|done)/)
  if (!hasScript) return notChecked(t, 'progress on a terminal: `script` (util-linux) is not on PATH to provide one')
  const quoted = (s) => `'${s.replace(/'/g, "'\\''")}'`
  const tty = await runCommand('script', ['-qec', `${quoted(process.execPath)} ${quoted(cli)} analyze ${quoted(shapes[2])}`, '/dev/null'])
  assert.strictEqual(tty.code, 0, tty.stderr)
  assert.match(tty.stdout, /\r\x1b\[Kleakwatch: (reading|graph|dominators|classes|paths|done)/)
})

/** The browser for the HTML tests; on Linux x64 the devDependency's Chromium must be there. */
async function browserOrSkip(t) {
  const browser = await findChromium()
  if (!browser.executable) {
    assert.ok(!(process.platform === 'linux' && process.arch === 'x64'), browser.reason)
    notChecked(t, `the HTML report in a browser: ${browser.reason}`)
    return null
  }
  return browser
}

test('the browser check sees console output, exceptions, requests and an unfinished script', async (t) => {
  // The control for the next test: a broken page must fail every check it passes.
  const browser = await browserOrSkip(t)
  if (!browser) return
  const page = path.join(dir, 'broken.html')
  fs.writeFileSync(page, '<!doctype html><html><body data-ready="false"><img src="http://127.0.0.1:9/x.png">' +
    '<script>console.error("boom"); null.x; document.body.setAttribute("data-ready", "true")</script></body></html>')
  const chromium = await launch(browser)
  try {
    const loaded = await openPage(chromium, page)
    assert.deepEqual(loaded.console, ['error: boom'])
    assert.equal(loaded.exceptions.length, 1)
    assert.match(loaded.exceptions[0], /TypeError: Cannot read properties of null/)
    assert.deepEqual(loaded.requests, [pathToFileURL(page).href, 'http://127.0.0.1:9/x.png'])
    assert.ok(loaded.log.some((l) => l.startsWith('error:')), JSON.stringify(loaded.log))
    assert.match(loaded.dom, /<body data-ready="false"/)
  } finally {
    await chromium.close()
  }
})

test('--html writes one self-contained page that loads in Chromium without console errors', async (t) => {
  const browser = await browserOrSkip(t)
  if (!browser) return
  const diffPage = path.join(dir, 'diff.html')
  const analyzePage = path.join(dir, 'analyze.html')
  const d = await run(['diff', ...shapes, '--html', diffPage])
  assert.strictEqual(d.code, 0, d.stderr)
  const a = await run(['analyze', shapes[2], '--html', analyzePage])
  assert.strictEqual(a.code, 0, a.stderr)
  const report = await leakwatch.diff(...shapes)
  const chromium = await launch(browser)
  t.diagnostic(`browser: ${chromium.version.product} (${browser.source}: ${browser.executable})`)
  try {
    for (const [page, expectedNames] of [
      [diffPage, [report.growth[0].name, report.classes[0].name, 'Widget']],
      [analyzePage, ['Widget', 'Map', '{name, value}']],
    ]) {
      const html = fs.readFileSync(page, 'utf8')
      assert.doesNotMatch(html, /<(script|link|img)[^>]+(src|href)="(?!data:)/, 'no external resources')
      const loaded = await openPage(chromium, page)
      assert.deepStrictEqual(loaded.console, [], `console output from ${page}`)
      assert.deepStrictEqual(loaded.exceptions, [], `uncaught exceptions in ${page}`)
      assert.deepStrictEqual(loaded.log, [], `browser warnings and errors for ${page}`)
      assert.deepStrictEqual(loaded.requests, [pathToFileURL(page).href], 'the page loads nothing but itself')
      assert.match(loaded.dom, /<body data-ready="true"/, 'the page script ran to the end')
      assert.match(loaded.dom, /<svg class="chart"/)
      for (const name of expectedNames) {
        const escaped = name.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;')
        assert.ok(loaded.dom.includes(escaped), `${page} shows ${name}`)
      }
      if (page === diffPage) {
        assert.match(loaded.dom, /Sizes across the snapshots/)
        assert.match(loaded.dom, /Retainer paths/)
      }
    }
  } finally {
    await chromium.close()
  }
})

test('--html never writes through a symlink planted at the output path, and leaves no temporary file', async () => {
  const victim = path.join(dir, 'victim.txt')
  fs.writeFileSync(victim, 'do not touch')
  const page = path.join(dir, 'planted.html')
  fs.symlinkSync(victim, page)
  const res = await run(['analyze', shapes[0], '--html', page])
  assert.equal(res.code, 0, res.stderr)
  assert.equal(fs.readFileSync(victim, 'utf8'), 'do not touch')
  assert.ok(!fs.lstatSync(page).isSymbolicLink(), 'the link is replaced by the page, not followed')
  assert.match(fs.readFileSync(page, 'utf8'), /^<!doctype html>/i)
  assert.deepEqual(fs.readdirSync(dir).filter((f) => f.endsWith('.tmp')), [])
})
