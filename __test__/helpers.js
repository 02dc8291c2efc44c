'use strict'

const { spawn } = require('node:child_process')
const path = require('node:path')

const root = path.join(__dirname, '..')

/**
 * Runs a Node.js script (source text) in a child process with the package resolvable as
 * `leakwatch`. Resolves with { code, signal, stdout, stderr, lines }. `prefix` is a command
 * the node invocation is appended to.
 */
function runScript(source, { args = [], env = {}, timeoutMs = 60_000, nodeArgs = [], prefix = [] } = {}) {
  // `prefix`: a command that runs the rest (e.g. a namespace or user switch).
  const [command, ...rest] = [...prefix, process.execPath, ...nodeArgs, '-e', source, ...args]
  return runCommand(command, rest, { env, timeoutMs })
}

/**
 * Runs a command in a child process (default cwd: the package root). `env` is added to this
 * process's environment unless `cleanEnv`. Resolves with { code, signal, stdout, stderr, lines }.
 */
function runCommand(command, args, { cwd = root, env = {}, cleanEnv = false, timeoutMs = 60_000 } = {}) {
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, {
      cwd,
      env: cleanEnv ? env : { ...process.env, ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
    })
    let stdout = ''
    let stderr = ''
    child.stdout.on('data', (d) => { stdout += d })
    child.stderr.on('data', (d) => { stderr += d })
    const timer = setTimeout(() => {
      child.kill('SIGKILL')
      reject(new Error(`${command} timed out after ${timeoutMs} ms\nstdout: ${stdout}\nstderr: ${stderr}`))
    }, timeoutMs)
    child.on('error', reject)
    child.on('close', (code, signal) => {
      clearTimeout(timer)
      resolve({ code, signal, stdout, stderr, lines: stdout.split('\n').filter(Boolean) })
    })
  })
}

/** Parses the lines of a child's stdout that are JSON (others are ignored). */
function jsonLines(result) {
  return result.lines.flatMap((line) => {
    try { return [JSON.parse(line)] } catch { return [] }
  })
}

// `require(PKG)` in a child script loads the package under test (its index.js).
const PKG = JSON.stringify(root)

module.exports = { root, PKG, runScript, runCommand, jsonLines }
