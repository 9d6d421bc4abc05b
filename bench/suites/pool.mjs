// Suite 2: pool dispatch. A tiny task and a 1 ms CPU task through a Threadpool (a function shipped
// by source, and a workerTask handle) against raw tinypool, piscina and workerpool with the same
// thread count, at 1 and 2 threads. Throughput with a bounded number of tasks in flight (a server
// never queues unboundedly; our default maxQueue is 64 per thread), the same driver for every pool.
// As a caller would use a pool: every call passes an integer and its result is used (summed and
// checked); tinypool and piscina run their module's default export. bench/scripts/pool-harness.mjs
// is an independent check of these rows (whole-process CPU per task, every pool alive at once).
import * as core from '@taskscope/core'
import Piscina from 'piscina'
import { Tinypool } from 'tinypool'
import workerpool from 'workerpool'
import { compare, roundRatio } from '../lib/micro.mjs'
import { patchedTinypool } from '../lib/patched-tinypool.mjs'

export const name = 'pool'

const tasksFile = new URL('../fixtures/pool-tasks.mjs', import.meta.url)
const workerpoolFile = new URL('../fixtures/workerpool-worker.mjs', import.meta.url)

/** Self-contained functions for runInThreadpool (shipped by source, compiled once per thread). */
const incrementFn = (n) => n + 1
const cpuFn = (ms) => {
  const end = performance.now() + ms
  let n = 0
  while (performance.now() < end) n++
  return n
}

export async function available() {
  if (typeof core.runInThreadpool !== 'function' || typeof core.workerTask !== 'function' || typeof core.getThreadpool !== 'function') {
    return '@taskscope/core has no runInThreadpool/workerTask/getThreadpool yet (packages/core/dist/threadpool.js)'
  }
  const probe = await Promise.race([
    core
      .runInThreadpool((a, b) => a + b, 1, 2)
      .then(
        (v) => (v === 3 ? undefined : `runInThreadpool((a, b) => a + b, 1, 2) gave ${v}`),
        (e) => `runInThreadpool failed: ${e?.message ?? e}`,
      ),
    new Promise((resolve) => setTimeout(resolve, 15_000, 'runInThreadpool did not answer within 15 s')).then((v) => v),
  ])
  return probe
}

export function placeholderRows(reason) {
  return [
    {
      suite: name,
      case: '(n) => n + 1 and 1 ms CPU',
      impl: 'runInThreadpool, workerTask vs tinypool/piscina/workerpool',
      skipped: reason,
      value: Number.NaN,
      ratio: Number.NaN,
      target: '≥ 1× tinypool and piscina ((n) => n + 1)',
    },
  ]
}

/**
 * Runs `n` tasks keeping `window` in flight, call i with the argument i; resolves when all are
 * done. Every result is used: `check(sum of results, n)` throws if the pool answered wrong.
 */
async function drive(submit, n, window, check) {
  let started = 0
  let sum = 0
  async function lane() {
    while (started < n) {
      const result = await submit(started++)
      sum += result
    }
  }
  const lanes = new Array(Math.min(window, n))
  for (let i = 0; i < lanes.length; i++) lanes[i] = lane()
  await Promise.all(lanes)
  check(sum, n)
}

/** The increment task answers i + 1 to i: n calls sum to n(n + 1)/2. */
function checkIncrements(sum, n) {
  if (sum !== (n * (n + 1)) / 2) throw new Error(`pool suite: ${n} increments summed to ${sum}, not ${(n * (n + 1)) / 2}`)
}

/** The 1 ms task answers its loop count, at least one per call. */
function checkLoops(sum, n) {
  if (!Number.isSafeInteger(sum) || sum < n) throw new Error(`pool suite: ${n} CPU tasks answered ${sum} loops in all`)
}

export async function run({ quick, log }) {
  const idleTimeout = 600_000
  const threadCounts = [1, 2]
  log(`thread counts: ${threadCounts.join(', ')} (every pool gets the same, min = max); Node ${process.version}`)
  const rows = []
  for (const threads of threadCounts) rows.push(...(await runAt(threads, { quick, idleTimeout })))
  return rows
}

/** The (n) => n + 1 and 1 ms rows at one thread count: a Threadpool of that size against the raw pools. */
async function runAt(threads, { quick, idleTimeout }) {
  const sized = { minThreads: threads, maxThreads: threads, idleTimeout }
  const ours = new core.Threadpool(sized)
  const tiny = new Tinypool({ filename: tasksFile.href, ...sized })
  const Patched = await patchedTinypool()
  const tinyPatched = Patched === undefined ? undefined : new Patched({ filename: tasksFile.href, ...sized })
  const pisc = new Piscina({ filename: tasksFile.href, ...sized })
  const wpool = workerpool.pool(workerpoolFile.pathname, { workerType: 'thread', minWorkers: threads, maxWorkers: threads })
  const incrementTask = core.workerTask(tasksFile) // the module's default export, as tinypool and piscina run it
  const cpuTask = core.workerTask(tasksFile, 'cpu')

  const window = 32
  const workloads = [
    {
      label: '(n) => n + 1',
      n: quick ? 50 : 2_000,
      target: 1,
      check: checkIncrements,
      submit: {
        fn: (i) => ours.run(incrementFn, [i]),
        handle: (i) => ours.run(incrementTask, [i]),
        tinypool: (i) => tiny.run(i),
        ...(tinyPatched && { tinypoolPatched: (i) => tinyPatched.run(i) }),
        piscina: (i) => pisc.run(i),
        workerpool: (i) => wpool.exec('increment', [i]),
      },
    },
    {
      label: '1 ms CPU',
      n: quick ? 10 : 150 * threads,
      target: 0.9,
      check: checkLoops,
      submit: {
        fn: () => ours.run(cpuFn, [1]),
        handle: () => ours.run(cpuTask, [1]),
        tinypool: () => tiny.run(1, { name: 'cpu' }),
        piscina: () => pisc.run(1, { name: 'cpu' }),
        workerpool: () => wpool.exec('cpu', [1]),
      },
    },
  ]
  const labels = {
    fn: 'pool.run(fn), function by source',
    handle: 'pool.run(workerTask(url, name))',
    tinypool: 'raw tinypool',
    tinypoolPatched: 'raw tinypool + bench/tinypool-memory-usage.patch',
    piscina: 'raw piscina',
    workerpool: 'raw workerpool',
  }
  const rows = []
  try {
    for (const w of workloads) {
      const cases = Object.entries(w.submit).map(([key, submit]) => ({ name: key, fn: () => drive(submit, w.n, window, w.check) }))
      const results = await compare(
        cases,
        quick
          ? { rounds: 1, time: 20, iterations: 2, warmupTime: 10, warmupIterations: 1 }
          : { rounds: 5, time: 400, iterations: 3, warmupTime: 150, warmupIterations: 2 },
      )
      const rate = (key) => w.n / (results.get(key).ms / 1000)
      const caseLabel = `${w.label}, ${threads} thread${threads === 1 ? '' : 's'}, ${window} in flight`
      for (const key of Object.keys(w.submit)) {
        // Throughput ratio = inverse time ratio, per round.
        const ratio = 1 / roundRatio(results, key, 'tinypool')
        const row = {
          suite: name,
          case: caseLabel,
          impl: labels[key],
          value: rate(key),
          unit: 'tasks/s',
          ratio,
          vs: 'raw tinypool',
          spread: results.get(key).spread,
        }
        if (key === 'fn' || key === 'handle') {
          row.target = `≥ ${w.target}×`
          row.met = ratio >= w.target
        }
        rows.push(row)
      }
      for (const key of ['fn', 'handle']) {
        const ratio = 1 / roundRatio(results, key, 'piscina')
        rows.push({
          suite: name,
          case: caseLabel,
          impl: labels[key],
          value: rate(key),
          unit: 'tasks/s',
          ratio,
          vs: 'raw piscina',
          target: `≥ ${w.target}×`,
          met: ratio >= w.target,
        })
      }
    }
  } finally {
    await Promise.allSettled([tiny.destroy(), tinyPatched?.destroy(), pisc.destroy(), wpool.terminate(true), ours.destroy()])
  }
  return rows
}
