'use strict'

// The big cases of the analysis benchmark (`run.js --big`): generated snapshots of 1, 2 and
// 4 GB (bench/analyze/generate.js, a two-snapshot series whose second file has the size),
// leakwatch's analyze() of the second and diff() of both, the floor (floor.rs: a plain read,
// then read and tokenise, of the same file in the same run), and DevTools' code and memlab
// on the analyze case, each in its own process under GNU time, with how they fail where they
// do. MB/s is the file's bytes over the in-process time where the tool reports one, else over
// the wall time. The files are deleted after each size unless --keep.
//
//   node bench/analyze/run.js --big [--sizes 1,2,4] [--dir DIR] [--keep] [--no-devtools]
//        [--no-memlab] [--timeout 900] [--rss-cap-gb G]
//
// --rss-cap-gb stops DevTools' code or memlab when its RSS passes G GB (the row says so): on a
// shared machine, a peer that needs most of its memory is not let take it.

const { spawn, spawnSync } = require('node:child_process')
const fs = require('node:fs')
const os = require('node:os')
const path = require('node:path')
const { option, markdownTable } = require('../common')

const root = path.join(__dirname, '..', '..')
const peers = path.join(__dirname, '..', 'peers', 'node_modules')
const toolkit = path.join(peers, 'heap-snapshot-toolkit', 'index.js')
const toolkitDev = path.join(root, 'node_modules', 'heap-snapshot-toolkit', 'index.js')
// memlab's own script, with the flags of its #! line (its 4 GB heap limit is memlab's choice).
const memlab = path.join(peers, 'memlab', 'bin', 'memlab')
const floorBin = path.join(root, 'target', 'release', 'examples', 'floor')

/** The resident set of `pid` in bytes, or 0 when it is gone. */
function rssOf(pid) {
  try {
    const m = /VmRSS:\s+(\d+) kB/.exec(fs.readFileSync(`/proc/${pid}/status`, 'utf8'))
    return m ? Number(m[1]) * 1024 : 0
  } catch {
    return 0
  }
}

/**
 * Runs `command args` under GNU time; resolves { ok, wall, rss, out, error } (seconds,
 * bytes). Killed after `timeoutS`, or when its RSS passes `rssCap` bytes (this machine is
 * shared: a peer that would take most of its memory is stopped, and the row says so).
 */
function timed(command, args, timeoutS, rssCap = Infinity) {
  return new Promise((resolve) => {
    const child = spawn('/usr/bin/time', ['-f', 'TIME %e %M', command, ...args], { cwd: root })
    let stdout = ''
    let stderr = ''
    child.stdout.on('data', (d) => { if (stdout.length < 1 << 20) stdout += d })
    child.stderr.on('data', (d) => { stderr = (stderr + d).slice(-1 << 16) })
    const t0 = performance.now()
    let stopped = null
    const tool = () => {
      try {
        return Number(fs.readFileSync(`/proc/${child.pid}/task/${child.pid}/children`, 'utf8').trim().split(' ')[0])
      } catch {
        return 0
      }
    }
    const watch = setInterval(() => {
      const pid = tool()
      const secs = (performance.now() - t0) / 1000
      if (pid && rssOf(pid) > rssCap) {
        stopped = `stopped by the benchmark at ${(rssCap / 1e9).toFixed(1)} GB RSS after ${secs.toFixed(0)} s`
        process.kill(pid, 'SIGKILL')
      } else if (pid && secs > timeoutS) {
        stopped = `no result within ${timeoutS} s (killed)`
        process.kill(pid, 'SIGKILL')
      }
    }, 250)
    child.on('close', (status) => {
      clearInterval(watch)
      const m = /TIME ([\d.]+) (\d+)\s*$/.exec(stderr)
      const wall = m ? Number(m[1]) : null
      const rss = m ? Number(m[2]) * 1024 : null
      if (stopped || status !== 0 || !m) {
        const lines = stderr.split('\n').filter((l) => l.trim() && !l.startsWith('TIME ') &&
          !/^\s+at /.test(l) && !l.startsWith('Command '))
        // A fatal error's own line (V8's "FATAL ERROR: …", a thrown Error) before its native stack.
        const fatal = lines.filter((l) => /error/i.test(l) && !/^\s*\d+: 0x/.test(l))
        const why = stopped || (fatal.length ? fatal : lines).slice(-3).join(' / ').slice(0, 300) || `exit ${status}`
        resolve({ ok: false, wall, rss, error: why })
        return
      }
      let out = null
      try {
        out = JSON.parse(stdout.trim().split('\n').pop())
      } catch {}
      resolve({ ok: true, wall, rss, out })
    })
  })
}

const LEAKWATCH = `
  const leakwatch = require(${JSON.stringify(root)})
  const files = process.argv.slice(1)
  const t0 = performance.now()
  const run = files.length === 1 ? leakwatch.analyze(files[0]) : leakwatch.diff(...files)
  run.then((r) => console.log(JSON.stringify({ ms: performance.now() - t0,
    top: files.length === 1 ? r.classes[0].name : r.growth[0] && r.growth[0].name })))`
const devtools = (lib) => `
  const fs = require('node:fs')
  import(${JSON.stringify(lib)}).then(async ({ parse }) => {
    const t0 = performance.now()
    const snap = await parse(fs.createReadStream(process.argv[1], 'utf8'))
    const aggregates = snap.aggregatesWithFilter({})
    console.log(JSON.stringify({ ms: performance.now() - t0, classes: Object.keys(aggregates).length }))
  })`

async function run(argv) {
  const sizes = String(option(argv, '--sizes', '1,2,4')).split(',').map(Number)
  const dir = path.resolve(option(argv, '--dir', path.join(__dirname, '.data', 'big')))
  const timeoutS = Number(option(argv, '--timeout', 900))
  const rssCap = Number(option(argv, '--rss-cap-gb', Infinity)) * 1e9
  const keep = argv.includes('--keep')
  const lib = fs.existsSync(toolkit) ? toolkit : fs.existsSync(toolkitDev) ? toolkitDev : null
  const withDevtools = !argv.includes('--no-devtools') && lib
  const withMemlab = !argv.includes('--no-memlab') && fs.existsSync(memlab)
  if (!fs.existsSync(floorBin)) {
    const r = spawnSync('cargo', ['build', '--release', '-p', 'leakwatch-analysis', '--example', 'floor'],
      { cwd: root, stdio: 'inherit' })
    if (r.status !== 0) throw new Error('cannot build the floor example')
  }
  fs.mkdirSync(dir, { recursive: true })
  const rows = []
  const failures = []
  const mb = (bytes) => `${(bytes / 1e6).toFixed(0)} MB`
  for (const gb of sizes) {
    const prefix = `big-${gb}gb`
    const files = [1, 2].map((k) => path.join(dir, `${prefix}-${k}.heapsnapshot`))
    if (!files.every((f) => fs.existsSync(f))) {
      console.error(`generating the ${gb} GB series in ${dir}…`)
      const g = spawnSync(process.execPath, [path.join(__dirname, 'generate.js'), '--out', dir, '--prefix', prefix,
        '--gb', String(gb), '--snapshots', '2'], { stdio: ['ignore', 'ignore', 'inherit'] })
      if (g.status !== 0) throw new Error(`generate.js --gb ${gb} failed`)
    }
    const [before, after] = files.map((f) => fs.statSync(f).size)
    const add = (name, sizes, tool, r, bytes) => {
      const secs = r.out && r.out.ms !== undefined ? r.out.ms / 1000 : null
      rows.push([name, sizes, tool,
        r.ok ? r.wall.toFixed(2) : 'failed',
        secs === null ? '–' : secs.toFixed(2),
        r.rss === null ? '–' : mb(r.rss),
        r.ok ? (bytes / 1e6 / (secs ?? r.wall)).toFixed(0) : '–',
        r.rss === null ? '–' : `${(r.rss / bytes).toFixed(2)}×`])
      if (!r.ok) failures.push(`${name}, ${tool}: ${r.error}`)
      console.error(`${name}: ${tool}: ${r.ok ? `${r.wall} s, ${mb(r.rss)}` : r.error}`)
    }
    const name = `analyze ~${gb} GB`
    add(name, mb(after), 'leakwatch', await timed(process.execPath, ['-e', LEAKWATCH, files[1]], timeoutS), after)
    const floor = await timed(floorBin, [files[1]], timeoutS)
    if (floor.ok) {
      for (const [tool, s] of [['floor: read', floor.out.readS], ['floor: read + tokenise (1 thread)', floor.out.tokeniseS]]) {
        rows.push([name, mb(after), tool, '–', s.toFixed(2), '–', (after / 1e6 / s).toFixed(0), '–'])
      }
    }
    if (withDevtools) {
      add(name, mb(after), 'DevTools (heap-snapshot-toolkit)',
        await timed(process.execPath, ['--max-old-space-size=16384', '-e', devtools(lib), files[1]], timeoutS, rssCap),
        after)
    }
    if (withMemlab) {
      add(name, mb(after), 'memlab analyze object-size',
        await timed(process.execPath, ['--expose-gc', '--max-old-space-size=4096', memlab, 'analyze', 'object-size',
          '--snapshot', files[1]], timeoutS, rssCap), after)
    }
    add(`diff ~${gb} GB series`, `${mb(before)} + ${mb(after)}`, 'leakwatch',
      await timed(process.execPath, ['-e', LEAKWATCH, ...files], timeoutS), before + after)
    if (!keep) for (const f of files) fs.rmSync(f, { force: true })
  }
  const affinity = spawnSync('taskset', ['-pc', String(process.pid)], { encoding: 'utf8' }).stdout.trim().split(': ').pop()
  console.log(`\n${os.cpus().length} cores (this run on CPUs ${affinity}), ${os.cpus()[0].model}, ` +
    `${(os.totalmem() / 2 ** 30).toFixed(0)} GiB, Node.js ${process.version}, one run per cell\n`)
  console.log(markdownTable(['Case', 'Snapshots', 'Tool', 'Wall s', 'In-process s', 'Peak RSS', 'MB/s', 'RSS / file'], rows))
  if (failures.length) console.log(`\n${failures.map((f) => `- ${f}`).join('\n')}`)
}

module.exports = { run }
