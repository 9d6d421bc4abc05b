// Suite 6: memory. Heap after GC (this process runs with --expose-gc), before and after:
// - 1,000,000 background tasks through one BackgroundTasks registry (in batches of 10,000);
// - 100,000 requests per framework to a route fanning out 3 calls in the request's taskGroup,
//   the load coming from a separate process so that none of the client's allocations count here.
// Target: flat, under 10 MB growth.
import { fork } from 'node:child_process'
import { once } from 'node:events'
import { setImmediate as tick } from 'node:timers/promises'
import { fileURLToPath } from 'node:url'
import { BackgroundTasks } from '@taskscope/core'
import { adapterMissing, FRAMEWORKS, startApp } from '../fixtures/http-apps.mjs'

export const name = 'memory'
const MB = 1e6
const LIMIT_MB = 10

async function heapAfterGc() {
  if (typeof globalThis.gc !== 'function') throw new Error('the memory suite needs node --expose-gc')
  for (let i = 0; i < 3; i++) {
    globalThis.gc()
    await tick()
  }
  return process.memoryUsage().heapUsed
}

function row(caseLabel, impl, before, after) {
  const growth = (after - before) / MB
  return {
    suite: name,
    case: caseLabel,
    impl: `${impl}: heap ${(before / MB).toFixed(1)} → ${(after / MB).toFixed(1)} MB`,
    value: growth,
    unit: 'MB',
    ratio: after / before,
    vs: 'heap before',
    target: `< ${LIMIT_MB} MB growth`,
    met: growth < LIMIT_MB,
  }
}

async function backgroundTasks(total) {
  const tasks = new BackgroundTasks({ onError: () => {} })
  const work = async () => 1
  const batch = 10_000
  const runBatches = async (n) => {
    for (let done = 0; done < n; done += batch) {
      for (let i = 0; i < Math.min(batch, n - done); i++) tasks.add(work)
      while (tasks.active > 0) await tick()
    }
  }
  await runBatches(Math.min(total, 20_000)) // warm-up: JIT, lazily created internals
  const before = await heapAfterGc()
  await runBatches(total)
  const after = await heapAfterGc()
  await tasks.shutdown({ timeout: 100 })
  return { before, after }
}

function loadFromChild(options) {
  const child = fork(fileURLToPath(new URL('../fixtures/load-child.mjs', import.meta.url)), [JSON.stringify(options)], {
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
  })
  return once(child, 'message').then(([result]) => result)
}

async function requests(framework, total, warmup) {
  const app = await startApp(framework, { adapter: true })
  try {
    const url = `http://127.0.0.1:${app.port}/fanout`
    await loadFromChild({ url, amount: warmup, connections: 10 })
    await new Promise((r) => setTimeout(r, 100)) // let the client's sockets close
    const before = await heapAfterGc()
    const result = await loadFromChild({ url, amount: total, connections: 10 })
    await new Promise((r) => setTimeout(r, 100))
    const after = await heapAfterGc()
    return { before, after, result, active: app.stats().requests.active }
  } finally {
    await app.close()
  }
}

export async function run({ quick, log }) {
  const rows = []
  const nTasks = quick ? 10_000 : 1_000_000
  const bg = await backgroundTasks(nTasks)
  rows.push(row(`${nTasks.toLocaleString('en-US')} background tasks`, 'BackgroundTasks.add(async () => 1)', bg.before, bg.after))

  const nRequests = quick ? 500 : 100_000
  for (const fw of FRAMEWORKS) {
    const caseLabel = `${nRequests.toLocaleString('en-US')} requests, 3 tasks each`
    const why = await adapterMissing(fw)
    if (why) {
      rows.push({
        suite: name,
        case: caseLabel,
        impl: fw,
        skipped: why,
        value: Number.NaN,
        ratio: Number.NaN,
        target: `< ${LIMIT_MB} MB growth`,
      })
      continue
    }
    const r = await requests(fw, nRequests, quick ? 200 : 5_000)
    if (r.result.errors > 0) log(`${fw}: ${r.result.errors} errors/non-2xx out of ${nRequests}`)
    if (r.active !== 0) log(`${fw}: ${r.active} request groups still active after the load`)
    const x = row(caseLabel, `${fw} (${Math.round(r.result.rps)} req/s)`, r.before, r.after)
    if (r.result.total < nRequests || r.active !== 0) x.met = false
    rows.push(x)
  }
  return rows
}
