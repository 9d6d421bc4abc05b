#!/usr/bin/env node
// taskscope benchmarks: every comparison in one run, printed as one table of ratios.
//
//   node bench/run.mjs                      full run (about 8 minutes on 2 cores, 1.5 of them the bullmq suite)
//   node bench/run.mjs --quick              tiny counts: checks that every suite runs (CI, npm test)
//   node bench/run.mjs --only pool,http     some suites only
//   node bench/run.mjs --json               the rows as JSON on stdout (the table goes to stderr)
//   --parallel / --serial                   run suites at once (default with --quick) or one by one
//   node bench/run.mjs --write BENCHMARKS.md  rewrite the generated part of that file
//
// Each suite runs in its own child process started with --expose-gc.
import { fork } from 'node:child_process'
import { loadavg } from 'node:os'
import { resolve } from 'node:path'
import { fileURLToPath } from 'node:url'
import { summary, textTable, writeMarkdown } from './lib/report.mjs'

const SUITES = ['task-group', 'request-cpu', 'pool', 'http', 'event-loop', 'disconnect', 'memory', 'bullmq']

function parseArgs(argv) {
  const opts = { quick: false, json: false, only: SUITES, write: undefined, parallel: undefined }
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]
    if (arg === '--quick') opts.quick = true
    else if (arg === '--json') opts.json = true
    else if (arg === '--parallel') opts.parallel = true
    else if (arg === '--serial') opts.parallel = false
    else if (arg === '--only') opts.only = argv[++i].split(',')
    else if (arg === '--write') opts.write = argv[++i]
    else if (arg === '--help' || arg === '-h') {
      console.log('usage: node bench/run.mjs [--quick] [--json] [--only suite,suite] [--write BENCHMARKS.md]')
      console.log(`suites: ${SUITES.join(', ')}`)
      process.exit(0)
    } else throw new Error(`Unknown argument ${JSON.stringify(arg)} (try --help)`)
  }
  // Quick mode only checks that the benches run: suites may share the machine, and the whole
  // check takes as long as the slowest suite. Measurements proper run one suite at a time.
  opts.parallel ??= opts.quick
  for (const name of opts.only)
    if (!SUITES.includes(name)) throw new Error(`Unknown suite ${JSON.stringify(name)}; suites: ${SUITES.join(', ')}`)
  return opts
}

function runSuite(name, quick) {
  return new Promise((resolvePromise) => {
    const child = fork(fileURLToPath(new URL('./lib/suite-child.mjs', import.meta.url)), [name, quick ? 'quick' : 'full'], {
      execArgv: ['--expose-gc'],
      stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
    })
    let message
    child.on('message', (m) => (message = m))
    child.on('exit', (code, signal) => {
      if (message === undefined) message = { error: `suite process exited with ${signal ?? `code ${code}`} before reporting` }
      resolvePromise(message)
    })
  })
}

async function main() {
  const opts = parseArgs(process.argv.slice(2))
  const log = opts.json ? console.error : console.log
  const started = performance.now()
  const loadStart = loadavg()[0]
  const rows = []
  const suites = []
  const errors = []
  const timed = async (name) => {
    const t0 = performance.now()
    const result = await runSuite(name, opts.quick)
    return { result, ms: performance.now() - t0 }
  }
  const pending = opts.parallel ? opts.only.map(timed) : undefined
  for (const [i, name] of opts.only.entries()) {
    if (!opts.parallel) log(`▶ ${name}${opts.quick ? ' (quick)' : ''}`)
    const { result, ms } = await (pending?.[i] ?? timed(name))
    if (opts.parallel) log(`▶ ${name}${opts.quick ? ' (quick)' : ''}`)
    suites.push({ name, ms, skipped: result.skipped, error: result.error })
    if (result.error) {
      errors.push({ name, error: result.error })
      console.error(`✖ ${name} failed:\n${result.error}`)
      rows.push({ suite: name, case: '—', impl: 'suite failed', skipped: 'error, see log', value: Number.NaN, ratio: Number.NaN })
    } else {
      if (result.skipped) log(`  skipped: ${result.skipped}`)
      // Quick mode checks that the benches run; its tiny, cold counts judge no target.
      if (opts.quick) for (const row of result.rows) if (row.met !== undefined) row.met = null
      rows.push(...result.rows)
    }
    log(`  ${(ms / 1000).toFixed(1)} s`)
  }
  const durationMs = performance.now() - started
  log('')
  log(textTable(rows))
  const s = summary(rows)
  log(
    `\nTargets: ${s.met} of ${s.targets} met, ${s.missed} missed; ${s.skipped} row(s) not run. Total ${(durationMs / 1000).toFixed(1)} s. Load average ${loadStart.toFixed(2)} → ${loadavg()[0].toFixed(2)}.`,
  )
  if (opts.write) {
    const args = process.argv.slice(2).filter((a, i, all) => a !== '--write' && all[i - 1] !== '--write')
    const command = args.length === 0 ? 'npm run bench' : `node bench/run.mjs ${args.join(' ')}`
    writeMarkdown(resolve(opts.write), { rows, command, durationMs, suites, load: { start: loadStart, end: loadavg()[0] } })
    log(`Wrote ${resolve(opts.write)}`)
  }
  if (opts.json) process.stdout.write(`${JSON.stringify({ quick: opts.quick, durationMs, suites, rows }, null, 2)}\n`)
  if (errors.length > 0) process.exitCode = 1
}

await main()
