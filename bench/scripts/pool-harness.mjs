#!/usr/bin/env node
// An independent check of the pool suite (bench/suites/pool.mjs): every pool alive in one process,
// each call passes one integer and the results are summed and checked, piscina and tinypool run
// their module's default export, whole-process CPU per task (process.cpuUsage counts every thread)
// and tasks/s, measured in interleaved rounds. Each condition that could make two harnesses
// disagree is a flag, so that it can be toggled one at a time:
//
//   node bench/scripts/pool-harness.mjs [--threads=1] [--tasks=4000] [--rounds=11] [--window=32]
//     [--pools=fn,handle,tinypool,piscina,patched]  the pools that exist (and are measured)
//     [--arg=int|none]        int: call i gets the integer i, results summed and checked; none: no argument, result unused
//     [--export=default|named]  tinypool/piscina: the module's default export, or run(x, { name: 'increment' })
//     [--warmup=4000]         untimed calls per pool before the first round (0: none)
//     [--sized=explicit|default]  explicit: minThreads = maxThreads = --threads for every pool; default: each pool's own defaults
//     [--gc]                  a full GC between measurements (needs --expose-gc)
//     [--baseline=DIR]        also pools fn0/handle0: the same calls through another build of
//                             @taskscope/core (DIR: a copy of packages/core/dist, e.g. of the commit before a change,
//                             kept inside the repository so that it resolves tinypool: node_modules/.baseline-core)
//     [--json]                print the summary as JSON as well
//
// Ratios are medians of per-round ratios against raw piscina (> 1: better than piscina).
import { Threadpool, workerTask } from '@taskscope/core'
import Piscina from 'piscina'
import { Tinypool } from 'tinypool'
import { patchedTinypool } from '../lib/patched-tinypool.mjs'
import { median, spread } from '../lib/stats.mjs'

const flags = Object.fromEntries(
  process.argv.slice(2).map((arg) => {
    const [key, value = 'true'] = arg.replace(/^--/, '').split('=')
    return [key, value]
  }),
)
const known = new Set(['threads', 'tasks', 'rounds', 'window', 'pools', 'arg', 'export', 'warmup', 'sized', 'gc', 'json', 'baseline'])
for (const key of Object.keys(flags)) if (!known.has(key)) throw new Error(`pool-harness: unknown flag --${key}`)
const threads = Number(flags.threads ?? 1)
const tasks = Number(flags.tasks ?? 4000)
const rounds = Number(flags.rounds ?? 11)
const window = Number(flags.window ?? 32)
const poolNames = (flags.pools ?? 'fn,handle,tinypool,piscina,patched').split(',')
if (flags.baseline !== undefined) poolNames.unshift('fn0', 'handle0')
const baseline =
  flags.baseline === undefined
    ? undefined
    : await import(new URL(`${flags.baseline.replace(/\/$/, '')}/index.js`, `file://${process.cwd()}/`).href)
const withArg = (flags.arg ?? 'int') === 'int'
const named = (flags.export ?? 'default') === 'named'
const warmup = Number(flags.warmup ?? tasks)
const explicit = (flags.sized ?? 'explicit') === 'explicit'
const gc = flags.gc === 'true' ? globalThis.gc : undefined
if (flags.gc === 'true' && gc === undefined) throw new Error('pool-harness: --gc needs node --expose-gc')

const tasksFile = new URL('../fixtures/pool-tasks.mjs', import.meta.url)
const sized = explicit ? { minThreads: threads, maxThreads: threads, idleTimeout: 600_000 } : {}
const increment = (n) => n + 1

/** Each pool: a `call(i)` that runs the task with argument i (or none) and resolves with its result, and `close()`. */
async function makePools() {
  const pools = {}
  const runOptions = named ? { name: 'increment' } : undefined
  for (const name of poolNames) {
    if (name === 'fn' || name === 'handle' || name === 'fn0' || name === 'handle0') {
      const core = name.endsWith('0') ? baseline : { Threadpool, workerTask }
      const pool = new core.Threadpool(sized)
      const task = name.startsWith('fn') ? increment : core.workerTask(tasksFile, named ? 'increment' : 'default')
      pools[name] = { call: withArg ? (i) => pool.run(task, [i]) : () => pool.run(task, []), close: () => pool.destroy() }
    } else if (name === 'tinypool' || name === 'patched' || name === 'piscina') {
      const Pool = name === 'piscina' ? Piscina : name === 'tinypool' ? Tinypool : await patchedTinypool()
      if (Pool === undefined) throw new Error('pool-harness: the installed tinypool no longer has the line the patch changes')
      const pool = new Pool({ filename: tasksFile.href, ...sized })
      pools[name] = { call: withArg ? (i) => pool.run(i, runOptions) : () => pool.run(undefined, runOptions), close: () => pool.destroy() }
    } else throw new Error(`pool-harness: unknown pool "${name}"`)
  }
  return pools
}

/** Runs `n` calls keeping `window` in flight; resolves with the sum of the results. */
async function drive(call, n) {
  let next = 0
  let sum = 0
  async function lane() {
    while (next < n) {
      const result = await call(next++)
      sum += result // after the await: \`sum += await …\` would read sum before it
    }
  }
  await Promise.all(Array.from({ length: Math.min(window, n) }, lane))
  return sum
}

async function measure(name, call) {
  gc?.()
  const cpu = process.cpuUsage()
  const start = process.hrtime.bigint()
  const sum = await drive(call, tasks)
  const ns = Number(process.hrtime.bigint() - start)
  const { user, system } = process.cpuUsage(cpu)
  if (withArg && sum !== (tasks * (tasks + 1)) / 2)
    throw new Error(`pool-harness: ${name} summed ${sum}, expected ${(tasks * (tasks + 1)) / 2}`)
  return { cpuPerTask: (user + system) / tasks, perSecond: tasks / (ns / 1e9) }
}

const labels = {
  fn0: 'baseline pool.run(fn)',
  handle0: 'baseline workerTask',
  fn: 'pool.run(fn)',
  handle: 'pool.run(workerTask)',
  tinypool: 'raw tinypool',
  piscina: 'raw piscina',
  patched: 'tinypool + patch',
}

const loadBefore = (await import('node:fs')).readFileSync('/proc/loadavg', 'utf8').split(' ').slice(0, 3).join(' ')
const pools = await makePools()
try {
  const names = Object.keys(pools)
  for (const name of names) if (warmup > 0) await drive(pools[name].call, warmup)
  const results = Object.fromEntries(names.map((name) => [name, []]))
  for (let round = 0; round < rounds; round++) {
    for (let k = 0; k < names.length; k++) {
      const name = names[(k + round) % names.length]
      results[name].push(await measure(name, pools[name].call))
    }
  }
  const loadAfter = (await import('node:fs')).readFileSync('/proc/loadavg', 'utf8').split(' ').slice(0, 3).join(' ')
  const conditions = `threads=${threads} tasks=${tasks} rounds=${rounds} window=${window} arg=${withArg ? 'int' : 'none'} export=${named ? 'named' : 'default'} warmup=${warmup} sized=${explicit ? 'explicit' : 'default'}${gc ? ' gc' : ''}`
  console.log(`Node ${process.version}; ${conditions}; load ${loadBefore} -> ${loadAfter}`)
  const base = results.piscina
  const summary = {}
  for (const name of names) {
    const rows = results[name]
    const cpu = median(rows.map((r) => r.cpuPerTask))
    const rate = median(rows.map((r) => r.perSecond))
    const cpuRatio = base ? median(rows.map((r, i) => base[i].cpuPerTask / r.cpuPerTask)) : Number.NaN
    const rateRatio = base ? median(rows.map((r, i) => r.perSecond / base[i].perSecond)) : Number.NaN
    summary[name] = { cpuPerTask: cpu, perSecond: rate, cpuRatio, rateRatio, spread: spread(rows.map((r) => r.perSecond)) }
    // A build of ours against its baseline build (--baseline), per round, like the piscina ratios.
    const own = results[`${name}0`]
    const vsBaseline = own
      ? `  vs baseline: CPU ${median(rows.map((r, i) => own[i].cpuPerTask / r.cpuPerTask)).toFixed(2)}× rate ${median(rows.map((r, i) => r.perSecond / own[i].perSecond)).toFixed(2)}×`
      : ''
    console.log(
      `${labels[name].padEnd(22)} ${cpu.toFixed(1).padStart(6)} µs CPU/task ${Math.round(rate).toString().padStart(7)} tasks/s` +
        `  vs piscina: CPU ${cpuRatio.toFixed(2)}× rate ${rateRatio.toFixed(2)}×  (rate spread ±${((summary[name].spread * 100) / 2).toFixed(0)}%)${vsBaseline}`,
    )
  }
  if (flags.json === 'true') console.log(JSON.stringify({ node: process.version, conditions, load: [loadBefore, loadAfter], summary }))
} finally {
  await Promise.allSettled(Object.values(pools).map((pool) => pool.close()))
}
