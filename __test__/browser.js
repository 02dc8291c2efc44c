'use strict'

// A headless Chromium for the tests, and a minimal DevTools-protocol client for it.
//
// The browser comes from the devDependency @sparticuz/chromium, whose registry tarball ships
// a Brotli-compressed headless Chromium for Linux x64 and the few libraries it links besides
// glibc (NSS, NSPR, expat). `npm install` brings it; the first use unpacks it once into
// node_modules/.cache/leakwatch-chromium/<version>/ (~2 s). Other platforms, or a run that
// points LEAKWATCH_CHROMIUM at another binary, use a `chromium` found on PATH instead.
//
// The page is driven over --remote-debugging-pipe (file descriptors 3 and 4, messages ended by
// NUL), so no WebSocket client and no puppeteer are needed: the protocol itself reports console
// calls, uncaught exceptions, browser log entries and every network request of the page.

const fs = require('node:fs')
const os = require('node:os')
const path = require('node:path')
const zlib = require('node:zlib')
const { spawn, execFileSync } = require('node:child_process')
const { pipeline } = require('node:stream/promises')

const root = path.join(__dirname, '..')
const PACKAGE = '@sparticuz/chromium'

/** The bundled package's directory and version, or null when it is not installed. */
function bundledPackage() {
  // Its exports map hides package.json from require.resolve: look where Node would.
  for (const modules of require.resolve.paths(PACKAGE) || []) {
    const manifest = path.join(modules, PACKAGE, 'package.json')
    if (fs.existsSync(manifest)) {
      return { dir: path.dirname(manifest), version: JSON.parse(fs.readFileSync(manifest, 'utf8')).version }
    }
  }
  return null
}

/** Reads a tar archive (ustar, regular files and directories only) into `dest`. */
function untar(buffer, dest) {
  for (let at = 0; at + 512 <= buffer.length;) {
    const header = buffer.subarray(at, at + 512)
    if (header.every((b) => b === 0)) break
    const field = (from, len) => header.subarray(from, from + len).toString('latin1').replace(/\0.*$/s, '')
    const name = (field(345, 155) ? `${field(345, 155)}/` : '') + field(0, 100)
    const size = parseInt(field(124, 12).trim() || '0', 8)
    const type = field(156, 1) || '0'
    const target = path.join(dest, name)
    if (!target.startsWith(dest + path.sep)) throw new Error(`tar entry outside ${dest}: ${name}`)
    if (type === '5') {
      fs.mkdirSync(target, { recursive: true })
    } else if (type === '0') {
      fs.mkdirSync(path.dirname(target), { recursive: true })
      fs.writeFileSync(target, buffer.subarray(at + 512, at + 512 + size), { mode: parseInt(field(100, 8).trim(), 8) & 0o755 })
    }
    at += 512 + Math.ceil(size / 512) * 512
  }
}

/**
 * Unpacks the bundled Chromium once (to a temporary name, then renamed, so a concurrent or
 * interrupted run never sees half a binary). Returns { executable, libDir, fontsDir }.
 */
async function unpackBundled(pkg) {
  const cacheRoot = process.env.LEAKWATCH_CHROMIUM_CACHE || path.join(root, 'node_modules', '.cache', 'leakwatch-chromium')
  const dir = path.join(cacheRoot, pkg.version)
  const layout = {
    executable: path.join(dir, 'chromium'),
    libDir: path.join(dir, 'lib'),
    fontsDir: path.join(dir, 'fonts'),
  }
  if (fs.existsSync(layout.executable)) return layout
  fs.mkdirSync(cacheRoot, { recursive: true })
  const temp = fs.mkdtempSync(path.join(cacheRoot, `.${pkg.version}-`))
  const bin = path.join(pkg.dir, 'bin')
  await pipeline(fs.createReadStream(path.join(bin, 'chromium.br')), zlib.createBrotliDecompress(),
    fs.createWriteStream(path.join(temp, 'chromium'), { mode: 0o755 }))
  // al2023.tar.br holds lib/ (NSS, NSPR, expat); fonts.tar.br holds fonts.conf and fonts/.
  untar(zlib.brotliDecompressSync(fs.readFileSync(path.join(bin, 'al2023.tar.br'))), temp)
  // fonts.tar.br: Open Sans, and a fonts.conf written for AWS Lambda's paths, replaced by one
  // that names this directory.
  const fonts = path.join(temp, 'fonts')
  fs.mkdirSync(fonts)
  untar(zlib.brotliDecompressSync(fs.readFileSync(path.join(bin, 'fonts.tar.br'))), fonts)
  fs.writeFileSync(path.join(fonts, 'fonts.conf'), '<?xml version="1.0"?>\n<!DOCTYPE fontconfig SYSTEM "fonts.dtd">\n' +
    `<fontconfig><dir>${layout.fontsDir}/fonts</dir><cachedir>${layout.fontsDir}/cache</cachedir></fontconfig>\n`)
  try {
    fs.renameSync(temp, dir)
  } catch (err) {
    // Another run got there first: use its copy.
    fs.rmSync(temp, { recursive: true, force: true })
    if (!fs.existsSync(layout.executable)) throw err
  }
  return layout
}

/** A `chromium` or `chromium-browser` on PATH, or null. */
function systemChromium() {
  for (const name of ['chromium', 'chromium-browser']) {
    try {
      return execFileSync('sh', ['-c', `command -v ${name}`], { encoding: 'utf8' }).trim()
    } catch {
      // not this one
    }
  }
  return null
}

/**
 * Which browser the tests use: LEAKWATCH_CHROMIUM (a path) if set; else the bundled Chromium
 * on Linux x64; else a system chromium on PATH. Resolves with
 * { executable, env, source } or { executable: null, reason }.
 */
async function findChromium() {
  if (process.env.LEAKWATCH_CHROMIUM) {
    return { executable: process.env.LEAKWATCH_CHROMIUM, env: {}, source: 'LEAKWATCH_CHROMIUM' }
  }
  const pkg = bundledPackage()
  if (pkg && process.platform === 'linux' && process.arch === 'x64') {
    const layout = await unpackBundled(pkg)
    const ld = [layout.libDir, process.env.LD_LIBRARY_PATH].filter(Boolean).join(':')
    return {
      executable: layout.executable,
      env: { LD_LIBRARY_PATH: ld, FONTCONFIG_PATH: layout.fontsDir },
      source: `${PACKAGE}@${pkg.version}`,
    }
  }
  const system = systemChromium()
  if (system) return { executable: system, env: {}, source: 'PATH' }
  return {
    executable: null,
    reason: pkg
      ? `${PACKAGE} ships a Chromium for Linux x64 only (this is ${process.platform}-${process.arch}) and no chromium is on PATH`
      : `${PACKAGE} is not installed (npm install) and no chromium is on PATH`,
  }
}

/**
 * Starts the browser with the DevTools protocol on a pipe. Returns { send, on, close, version }:
 * send(method, params, sessionId) resolves with the result or rejects with the protocol error;
 * on(listener) receives every event ({ method, params, sessionId }).
 */
async function launch(browser, { timeoutMs = 60_000 } = {}) {
  const profile = fs.mkdtempSync(path.join(os.tmpdir(), 'leakwatch-chromium-'))
  const child = spawn(browser.executable, [
    '--headless', '--no-sandbox', '--disable-gpu', '--no-first-run', '--no-default-browser-check',
    '--disable-background-networking', '--disable-extensions', '--disable-dev-shm-usage', '--no-zygote',
    `--user-data-dir=${profile}`, '--remote-debugging-pipe', 'about:blank',
  ], {
    env: { ...process.env, HOME: profile, ...browser.env },
    stdio: ['ignore', 'ignore', 'pipe', 'pipe', 'pipe'],
  })
  let stderr = ''
  child.stdio[2].on('data', (d) => { stderr = (stderr + d).slice(-20_000) })
  const writer = child.stdio[3]
  const reader = child.stdio[4]
  const pending = new Map()
  const listeners = []
  let nextId = 1
  let buffered = ''
  let exited = null
  const failAll = (err) => {
    for (const { reject } of pending.values()) reject(err)
    pending.clear()
  }
  reader.on('data', (chunk) => {
    buffered += chunk
    let end
    while ((end = buffered.indexOf('\0')) >= 0) {
      const message = JSON.parse(buffered.slice(0, end))
      buffered = buffered.slice(end + 1)
      if (message.id !== undefined) {
        const call = pending.get(message.id)
        pending.delete(message.id)
        if (!call) continue
        if (message.error) call.reject(new Error(`${call.method}: ${message.error.message}`))
        else call.resolve(message.result)
      } else {
        for (const listener of listeners) listener(message)
      }
    }
  })
  writer.on('error', () => {}) // reported through the exit below
  child.on('exit', (code, signal) => {
    exited = { code, signal }
    failAll(new Error(`${browser.executable} exited (${signal || code}) before answering\n${stderr}`))
  })
  child.on('error', (err) => failAll(err))
  const watchdog = setTimeout(() => {
    child.kill('SIGKILL')
    failAll(new Error(`${browser.executable} gave no answer within ${timeoutMs} ms\n${stderr}`))
  }, timeoutMs)

  const send = (method, params = {}, sessionId) => new Promise((resolve, reject) => {
    if (exited) return reject(new Error(`${browser.executable} has exited (${exited.signal || exited.code})\n${stderr}`))
    const id = nextId++
    pending.set(id, { resolve, reject, method })
    writer.write(JSON.stringify({ id, method, params, ...(sessionId ? { sessionId } : {}) }) + '\0')
  })
  const close = async () => {
    clearTimeout(watchdog)
    if (!exited) {
      const gone = new Promise((resolve) => child.once('exit', resolve))
      await send('Browser.close').catch(() => {})
      await gone
    }
    fs.rmSync(profile, { recursive: true, force: true })
  }
  try {
    const version = await send('Browser.getVersion')
    return { send, on: (listener) => listeners.push(listener), close, version, stderr: () => stderr }
  } catch (err) {
    await close()
    throw err
  }
}

/**
 * Opens `file` in a new tab of `browser` (from launch) and waits for its load event. Resolves
 * with { dom, console, exceptions, log, requests }: the DOM serialised after the page's
 * scripts ran, every console call, every uncaught exception, the browser's warning and error
 * log entries, and the URL of every network request the page made.
 */
async function openPage(browser, file) {
  const url = `file://${file}`
  const { targetId } = await browser.send('Target.createTarget', { url: 'about:blank' })
  const { sessionId } = await browser.send('Target.attachToTarget', { targetId, flatten: true })
  const seen = { console: [], exceptions: [], log: [], requests: [] }
  let loaded
  const load = new Promise((resolve) => { loaded = resolve })
  browser.on(({ method, params, sessionId: from }) => {
    if (from !== sessionId) return
    if (method === 'Runtime.consoleAPICalled') {
      seen.console.push(`${params.type}: ${params.args.map((a) => a.value ?? a.description).join(' ')}`)
    } else if (method === 'Runtime.exceptionThrown') {
      const d = params.exceptionDetails
      seen.exceptions.push(`${d.exception?.description ?? d.text} (${d.url}:${d.lineNumber})`)
    } else if (method === 'Log.entryAdded' && ['warning', 'error'].includes(params.entry.level)) {
      seen.log.push(`${params.entry.level}: ${params.entry.text} ${params.entry.url ?? ''}`.trim())
    } else if (method === 'Network.requestWillBeSent') {
      seen.requests.push(params.request.url)
    } else if (method === 'Page.loadEventFired') {
      loaded()
    }
  })
  for (const domain of ['Runtime', 'Log', 'Network', 'Page']) await browser.send(`${domain}.enable`, {}, sessionId)
  const nav = await browser.send('Page.navigate', { url }, sessionId)
  if (nav.errorText) throw new Error(`${url}: ${nav.errorText}`)
  await load
  const { result } = await browser.send('Runtime.evaluate',
    { expression: 'document.documentElement.outerHTML', returnByValue: true }, sessionId)
  await browser.send('Target.closeTarget', { targetId })
  return { dom: result.value, ...seen }
}

module.exports = { findChromium, launch, openPage }
