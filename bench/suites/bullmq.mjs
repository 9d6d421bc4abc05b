// Suite 7: distributed background tasks. Add → completion throughput of N jobs through
// BullmqBackgroundTasks (add, then await every handle) against raw BullMQ (Queue.add, a Worker,
// QueueEvents 'completed' counted in the adding process) with the same concurrency, the same job
// options (removeOnComplete/removeOnFail counts) and the same store — Redis, then PostgreSQL
// (BullMQ's PostgreSQL backend) when its server programs are here — in one process, each side
// warmed by one job before the clock starts. Jobs are a no-op and a 2 ms wait. Rounds alternate
// ABBA on fresh queues; the ratio is the median of the per-round ratios. Each row also gives this
// process's CPU time per job, steadier than throughput on a shared machine.

import { setTimeout as sleep } from 'node:timers/promises'
import { BullmqBackgroundTasks } from '@taskscope/bullmq'
import { defineTask } from '@taskscope/core'
import { createPostgresBackend, Queue, QueueEvents, Worker } from 'bullmq'
import { postgresMissing, startPostgres } from '../fixtures/postgres-server.mjs'
import { redisMissing, startRedis } from '../fixtures/redis-server.mjs'
import { collect, median, spread } from '../lib/stats.mjs'

export const name = 'bullmq'

const concurrency = 8
const keep = { removeOnComplete: { count: 1000 }, removeOnFail: { count: 5000 } } // BullmqBackgroundTasks' defaults
const work = {
  'no-op': async (data) => ({ n: data.n }),
  '2 ms wait': async (data) => {
    await sleep(2)
    return { n: data.n }
  },
}

export async function available() {
  return redisMissing()
}

export function placeholderRows(reason) {
  return [
    {
      suite: name,
      case: 'add → completion',
      impl: 'BullmqBackgroundTasks vs raw BullMQ',
      skipped: reason,
      value: Number.NaN,
      ratio: Number.NaN,
      target: '≥ 0.9× raw',
    },
  ]
}

/** Wall time and this process's CPU time per job (Redis's own CPU is the same work on both sides). */
function start() {
  const t0 = performance.now()
  const c0 = process.cpuUsage()
  return {
    stop(n) {
      const { user, system } = process.cpuUsage(c0)
      return { ms: performance.now() - t0, cpuUs: (user + system) / n }
    },
  }
}

let queueNo = 0
const freshQueue = () => `bench-${process.pid}-${++queueNo}`

/** Raw BullMQ: N Queue.add calls at once, a Worker, completions counted through QueueEvents. */
async function raw(url, kind, n) {
  // BullMQ's own API: Redis by default; PostgreSQL with its backend factory as the last argument.
  const postgres = url.startsWith('postgres')
  const connection = postgres ? url : { url }
  const backend = postgres ? createPostgresBackend : undefined
  const queueName = freshQueue()
  const queue = new Queue(queueName, { connection }, backend)
  // On PostgreSQL, QueueEvents' default cursor ('$', "from now on") is resolved again at each
  // read, so events published between two reads are missed: a fresh queue reads from its start.
  const events = new QueueEvents(queueName, { connection, ...(postgres ? { lastEventId: '0' } : {}) }, backend)
  const worker = new Worker(queueName, (job) => work[kind](job.data), { connection, concurrency }, backend)
  await Promise.all([queue.waitUntilReady(), events.waitUntilReady(), worker.waitUntilReady()])
  try {
    // One job first, on both sides, so that the clock measures the steady state of a running app.
    if (postgres) {
      const first = new Promise((resolve) => worker.once('completed', resolve))
      await queue.add(kind, { n: -1 }, keep)
      await first
    } else {
      await queue.add(kind, { n: -1 }, keep).then((job) => job.waitUntilFinished(events))
    }
    let done = 0
    let failed = 0
    // On PostgreSQL, QueueEvents misses events (BullMQ reads its event table by id and skips one
    // whose transaction commits after a later one's): count the Worker's own events instead —
    // in this process, which is less work than telling an adder elsewhere.
    const counted = postgres ? worker : events
    const finished = new Promise((resolve) => {
      const count = () => ++done + failed === n && resolve()
      counted.on('completed', count)
      counted.on('failed', () => ++failed + done === n && resolve())
    })
    const clock = start()
    await Promise.all(Array.from({ length: n }, (_, i) => queue.add(kind, { n: i }, keep)))
    await finished
    const took = clock.stop(n)
    if (failed > 0) throw new Error(`raw BullMQ: ${failed} of ${n} jobs failed`)
    return took
  } finally {
    await worker.close()
    await events.close()
    await queue.close()
  }
}

/** taskscope: one BullmqBackgroundTasks that adds and runs (the same concurrency); every handle awaited. */
async function taskscope(url, kind, n) {
  const task = defineTask(kind, work[kind])
  const tasks = new BullmqBackgroundTasks({ connection: url, queue: freshQueue(), tasks: [task], concurrency })
  await tasks.ready()
  try {
    // One job first (the registry starts listening to the queue's events at its first add).
    await tasks.add(task, { n: -1 })
    const clock = start()
    await Promise.all(Array.from({ length: n }, (_, i) => tasks.add(task, { n: i })))
    return clock.stop(n)
  } finally {
    await tasks.shutdown()
  }
}

export async function run({ quick, log }) {
  const rows = []
  const redis = await startRedis()
  try {
    rows.push(...(await runOn(redis.url, '', { quick, log })))
  } finally {
    await redis.stop()
  }
  const missing = postgresMissing()
  if (missing !== undefined) {
    log(`PostgreSQL rows skipped: ${missing}`)
    return rows
  }
  const postgres = await startPostgres()
  try {
    rows.push(...(await runOn(postgres.url, ' on PostgreSQL', { quick, log })))
  } finally {
    await postgres.stop()
  }
  return rows
}

/** Both kinds of job on one store; `where` tells the store in the case label (Redis: nothing, as before). */
async function runOn(url, where, { quick, log }) {
  // PostgreSQL is slower on this machine: fewer jobs and rounds keep the suite within minutes.
  const onPostgres = url.startsWith('postgres')
  const n = quick ? 50 : onPostgres ? 500 : 2_000
  const rounds = quick ? 1 : onPostgres ? 3 : 5
  const impls = { raw, taskscope }
  const rows = []
  for (const kind of Object.keys(work)) {
    const caseLabel = `add → completion${where}, ${n.toLocaleString('en-US')} jobs (${kind}), concurrency ${concurrency}`
    // Warm-up: connections, Lua scripts loaded, JIT.
    await raw(url, kind, Math.min(200, n))
    await taskscope(url, kind, Math.min(200, n))
    const ms = { raw: [], taskscope: [] }
    const cpu = { raw: [], taskscope: [] }
    for (let round = 0; round < rounds; round++) {
      // ABBA within each round: drift in the machine's load hits both sides alike.
      const order = round % 2 === 0 ? ['raw', 'taskscope', 'taskscope', 'raw'] : ['taskscope', 'raw', 'raw', 'taskscope']
      const runs = { raw: [], taskscope: [] }
      for (const impl of order) {
        collect()
        runs[impl].push(await impls[impl](url, kind, n))
      }
      for (const impl of ['raw', 'taskscope']) {
        ms[impl].push(mean(runs[impl].map((r) => r.ms)))
        cpu[impl].push(mean(runs[impl].map((r) => r.cpuUs)))
      }
      log(`${kind}${where} round ${round + 1}: raw ${ms.raw.at(-1).toFixed(0)} ms, taskscope ${ms.taskscope.at(-1).toFixed(0)} ms`)
    }
    // Throughput ratio ours ÷ raw = raw time ÷ our time, per round; CPU ratio ours ÷ raw.
    const ratio = median(ms.raw.map((raw, i) => raw / ms.taskscope[i]))
    const cpuRatio = median(cpu.taskscope.map((ours, i) => ours / cpu.raw[i]))
    const perSecond = (times) => (n / median(times)) * 1000
    const us = (impl) => `${median(cpu[impl]).toFixed(0)} µs CPU/job`
    rows.push({
      suite: name,
      case: caseLabel,
      impl: `BullMQ Queue.add + Worker + ${onPostgres ? "the Worker's 'completed'" : 'QueueEvents'}, raw (${us('raw')})`,
      value: perSecond(ms.raw),
      unit: 'jobs/s',
      ratio: 1,
      vs: 'raw BullMQ',
      spread: spread(ms.raw),
    })
    rows.push({
      suite: name,
      case: caseLabel,
      impl: `BullmqBackgroundTasks add + await handle (${us('taskscope')}; CPU ratio ${cpuRatio.toFixed(2)}×)`,
      value: perSecond(ms.taskscope),
      unit: 'jobs/s',
      ratio,
      vs: 'raw BullMQ',
      spread: spread(ms.taskscope),
      cpuRatio,
      target: '≥ 0.9×',
      met: ratio >= 0.9,
    })
  }
  return rows
}

const mean = (xs) => xs.reduce((a, b) => a + b, 0) / xs.length
