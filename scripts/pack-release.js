'use strict'

// `npm run pack:release [-- <dir>]`: the tarballs a release publishes, into <dir> (default
// dist/): one per platform package whose addon npm/<platform>/ holds (`npm run
// build:platforms`, or the release workflow's artifacts), and leakwatch itself with every
// platform package in `optionalDependencies` at its own version.
//
// The repository's package.json does not list them: they are not on the registry before the
// first release, and `npm ci` refuses a lockfile without them ("Missing: … from lock file").
// They are added to the packed manifest only: the files `npm pack` ships are packed again from
// a staging copy whose package.json lists them; publishing that tarball
// (`npm publish dist/leakwatch-<version>.tgz`) sends the registry the same manifest.

const fs = require('node:fs')
const os = require('node:os')
const path = require('node:path')
const { spawnSync } = require('node:child_process')
const {
  root, pkg, PLATFORMS, packageDir, addonFile, addonPath, platformManifest, optionalDependencies,
} = require('./platforms')

function run(cmd, args, opts = {}) {
  const r = spawnSync(cmd, args, {
    encoding: 'utf8', maxBuffer: 64 * 1024 * 1024, shell: process.platform === 'win32' && cmd === 'npm', ...opts,
  })
  if (r.error || r.status !== 0) {
    throw new Error(`${cmd} ${args.join(' ')} failed: ${r.error ? r.error.message : r.stderr}`)
  }
  return r.stdout
}

/** `npm pack <dir>` into `dest`; returns npm's description of the tarball (path, sizes). */
function npmPack(dir, dest, extra = []) {
  const stdout = run('npm', ['pack', dir, '--json', '--pack-destination', dest, ...extra], { cwd: root })
  const [info] = JSON.parse(stdout.slice(stdout.indexOf('[')))
  return { ...info, path: path.join(dest, info.filename) }
}

/**
 * leakwatch's tarball with the platform packages as optionalDependencies: the files
 * `npm pack` would ship, copied to a staging directory whose package.json lists them, packed
 * there without scripts (no tar needed, which `npm run check:fresh`'s PATH does not have).
 */
function packMain(dest) {
  const staging = fs.mkdtempSync(path.join(os.tmpdir(), 'leakwatch-pack-'))
  try {
    const stdout = run('npm', ['pack', '--dry-run', '--json'], { cwd: root })
    const [listed] = JSON.parse(stdout.slice(stdout.indexOf('[')))
    for (const { path: file } of listed.files) {
      fs.mkdirSync(path.dirname(path.join(staging, file)), { recursive: true })
      fs.copyFileSync(path.join(root, file), path.join(staging, file))
    }
    const manifestPath = path.join(staging, 'package.json')
    const manifest = JSON.parse(fs.readFileSync(manifestPath, 'utf8'))
    manifest.optionalDependencies = optionalDependencies()
    fs.writeFileSync(manifestPath, JSON.stringify(manifest, null, 2) + '\n')
    return npmPack(staging, dest, ['--ignore-scripts'])
  } finally {
    fs.rmSync(staging, { recursive: true, force: true })
  }
}

/**
 * Platform `p`'s tarball. `addon` packs that file instead of npm/<platform>/'s (a staged copy
 * of the package: the tests pack the addon this checkout built).
 */
function packPlatform(p, dest, { addon = addonPath(p) } = {}) {
  platformManifest(p)
  if (!fs.existsSync(addon)) throw new Error(`${addon} is missing: build it first (npm run build:platforms)`)
  if (addon === addonPath(p)) return npmPack(packageDir(p), dest)
  const staging = fs.mkdtempSync(path.join(os.tmpdir(), `leakwatch-${p.platform}-`))
  try {
    for (const f of fs.readdirSync(packageDir(p))) {
      if (!f.endsWith('.node')) fs.copyFileSync(path.join(packageDir(p), f), path.join(staging, f))
    }
    fs.copyFileSync(addon, path.join(staging, addonFile(p)))
    return npmPack(staging, dest)
  } finally {
    fs.rmSync(staging, { recursive: true, force: true })
  }
}

const kB = (n) => `${(n / 1024).toFixed(0)} kB`

if (require.main === module) {
  const dest = path.resolve(process.argv[2] || path.join(root, 'dist'))
  fs.mkdirSync(dest, { recursive: true })
  const rows = []
  for (const p of PLATFORMS) {
    if (!fs.existsSync(addonPath(p))) {
      rows.push([`${pkg.name}-${p.platform}`, 'not packed: no addon in npm/' + p.platform])
      continue
    }
    const info = packPlatform(p, dest)
    rows.push([info.filename, `${kB(info.size)} packed, ${kB(info.unpackedSize)} unpacked`])
  }
  const main = packMain(dest)
  rows.push([main.filename, `${kB(main.size)} packed, ${kB(main.unpackedSize)} unpacked, ${main.files.length} files`])
  console.log(`\ntarballs in ${path.relative(process.cwd(), dest) || '.'}:`)
  for (const [name, what] of rows) console.log(`  ${name.padEnd(38)}${what}`)
}

module.exports = { packMain, packPlatform }
