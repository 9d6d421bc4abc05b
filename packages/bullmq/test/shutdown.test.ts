// Shutdown hands back, never takes back: at any concurrency and timeout, a stopping process
// starts no job it handed back (BullMQ's fetch for a free slot is still in flight when shutdown
// begins), returns within timeout + grace + 1 s, counts each job once, and another process later
// runs each handed-back job exactly once. Real redis-server, real OS processes.
import { BullmqBackgroundTasks } from '@taskscope/bullmq'
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest'
// @ts-expect-error a plain .mjs fixture without declarations
import { hold, slowStop, stubborn } from './fixtures/tasks.mjs'
import { count, killMachines, type Machine, startMachine } from './processes.ts'
import { type RedisServer, startRedis } from './redis-server.ts'

let redis: RedisServer
let queueNo = 0
const local: BullmqBackgroundTasks[] = []

beforeAll(async () => {
  redis = await startRedis()
})
afterEach(async () => {
  await killMachines()
  await Promise.all(local.splice(0).map((tasks) => tasks.shutdown({ timeout: 0, grace: 0 })))
})
afterAll(async () => {
  await redis?.stop()
})

const freshQueue = (): string => `sd${process.pid}-${++queueNo}`
const startedTags = (machine: Machine): unknown[] => machine.events.filter((m) => m.event === 'started').map((m) => m.tag)

/** Waits until `machine` started each of `tags`. */
async function allStarted(machine: Machine, tags: readonly string[]): Promise<void> {
  await Promise.all(tags.map((tag) => machine.next((m) => m.event === 'started' && m.tag === tag)))
}

/** What the contract allows on top of timeout + grace: closing the connections (1 s), plus IPC and a loaded machine. */
const closeAllowance = 1000
const slack = 1500

interface Timed {
  report: { completed: number; failed: number; cancelled: number; abandoned: number; requeued: number }
  ms: number
}

describe('D10: a stopping process starts no job it handed back (jobs that honour their signal)', () => {
  // Fewer jobs than slots (but at least one): BullMQ's blocking fetch for a free slot is in flight.
  it.each([
    { concurrency: 1, timeout: 0 },
    { concurrency: 2, timeout: 1000 },
    { concurrency: 4, timeout: 0 },
    { concurrency: 8, timeout: 2000 },
  ])('concurrency $concurrency, timeout $timeout ms', async ({ concurrency, timeout }) => {
    const queue = freshQueue()
    const grace = 500
    const jobs = Math.max(1, concurrency - 1)
    const tags = Array.from({ length: jobs }, (_, i) => `${queue}-${i}`)
    const adder = new BullmqBackgroundTasks({ connection: redis.url, queue, concurrency: 0 })
    local.push(adder)
    const leaving = await startMachine({ url: redis.url, queue, concurrency })
    // Each runs 4 s: longer than the timeout, so the leaving process hands it back.
    const handles = tags.map((tag) => adder.add(hold, { tag, ms: 4000 }, { id: tag }))
    await allStarted(leaving, tags)
    const { report, ms } = await leaving.call<Timed>({ cmd: 'timedShutdown', timeout, grace })
    expect(report).toEqual({ completed: 0, failed: 0, cancelled: 0, abandoned: 0, requeued: jobs })
    expect(ms).toBeLessThan(timeout + grace + closeAllowance + slack)
    // Never taken back: each job started once in the leaving process.
    expect(startedTags(leaving).sort()).toEqual([...tags].sort())
    for (const tag of tags) expect(await adder.get(tag)).toMatchObject({ status: 'queued' })
    const next = await startMachine({ url: redis.url, queue, concurrency: 8 })
    const results = await Promise.all(handles)
    for (const [i, tag] of tags.entries()) {
      expect(results[i]).toEqual({ tag, pid: next.pid })
      expect([await count(`starts:${tag}`), await count(`completions:${tag}`)]).toEqual([2, 1])
    }
  })

  it('a job added while the process stops is handed straight back, unrun and uncounted', async () => {
    const queue = freshQueue()
    const adder = new BullmqBackgroundTasks({ connection: redis.url, queue, concurrency: 0 })
    local.push(adder)
    const leaving = await startMachine({ url: redis.url, queue, concurrency: 4 })
    const first = `${queue}-first`
    const late = `${queue}-late`
    const handles = [adder.add(hold, { tag: first, ms: 3000 }, { id: first })]
    await allStarted(leaving, [first])
    const stopping = leaving.call<Timed>({ cmd: 'timedShutdown', timeout: 1500, grace: 500 })
    handles.push(adder.add(hold, { tag: late, ms: 200 }, { id: late }))
    const { report } = await stopping
    expect(report).toEqual({ completed: 0, failed: 0, cancelled: 0, abandoned: 0, requeued: 1 })
    expect(startedTags(leaving)).toEqual([first])
    const next = await startMachine({ url: redis.url, queue, concurrency: 4 })
    expect(await Promise.all(handles)).toEqual([
      { tag: first, pid: next.pid },
      { tag: late, pid: next.pid },
    ])
    expect(await count(`starts:${late}`)).toBe(1)
  })
})

describe('D10: jobs that ignore their signal', () => {
  it.each([
    { concurrency: 2, timeout: 0 },
    { concurrency: 8, timeout: 500 },
  ])(
    'concurrency $concurrency, timeout $timeout ms: abandoned after the grace, run once more elsewhere',
    async ({ concurrency, timeout }) => {
      const queue = freshQueue()
      const fast = { lockDuration: 1000, stalledInterval: 500 }
      const jobs = concurrency - 1
      const tags = Array.from({ length: jobs }, (_, i) => `${queue}-${i}`)
      const adder = new BullmqBackgroundTasks({ connection: redis.url, queue, concurrency: 0 })
      local.push(adder)
      const leaving = await startMachine({ url: redis.url, queue, concurrency, ...fast })
      const handles = tags.map((tag) => adder.add(stubborn, { tag, ms: 3000 }, { id: tag }))
      await allStarted(leaving, tags)
      const { report, ms } = await leaving.call<Timed>({ cmd: 'timedShutdown', timeout, grace: 200 })
      expect(report).toEqual({ completed: 0, failed: 0, cancelled: 0, abandoned: jobs, requeued: 0 })
      expect(ms).toBeLessThan(timeout + 200 + closeAllowance + slack)
      expect(startedTags(leaving).sort()).toEqual([...tags].sort())
      await leaving.kill() // the process manager's hard stop
      const next = await startMachine({ url: redis.url, queue, concurrency: 8, ...fast })
      const results = await Promise.all(handles)
      for (const [i, tag] of tags.entries()) {
        expect(results[i]).toEqual({ tag, pid: next.pid })
        expect([await count(`starts:${tag}`), await count(`completions:${tag}`)]).toEqual([2, 1])
      }
    },
  )

  it('a job that finishes after its signal aborted, within the grace, counts once, as completed', async () => {
    const queue = freshQueue()
    const leaving = await startMachine({ url: redis.url, queue, concurrency: 4 })
    const tag = `${queue}-late-finish`
    await leaving.call({ cmd: 'add', task: 'stubborn', data: { tag, ms: 600 }, id: tag })
    await allStarted(leaving, [tag])
    const { report } = await leaving.call<Timed>({ cmd: 'timedShutdown', timeout: 0, grace: 5000 })
    expect(report).toEqual({ completed: 1, failed: 0, cancelled: 0, abandoned: 0, requeued: 0 })
    expect(startedTags(leaving)).toEqual([tag])
  })
})

describe('D10: a job the user cancelled stays cancelled through a shutdown', () => {
  it('is not handed back, and never runs again', async () => {
    const queue = freshQueue()
    const fast = { lockDuration: 1000, stalledInterval: 500 }
    const adder = new BullmqBackgroundTasks({ connection: redis.url, queue, concurrency: 0 })
    local.push(adder)
    const leaving = await startMachine({ url: redis.url, queue, concurrency: 2, ...fast })
    const tag = `${queue}-cancelled`
    // It stops 800 ms after its signal aborts, so it is still running, cancelled, when shutdown begins.
    const handle = adder.add(slowStop, { tag, ms: 800 }, { id: tag })
    await allStarted(leaving, [tag])
    await handle.cancel('not wanted')
    await leaving.next((m) => m.event === 'aborted' && m.tag === tag)
    const { report } = await leaving.call<Timed>({ cmd: 'timedShutdown', timeout: 0, grace: 3000 })
    expect(report).toEqual({ completed: 0, failed: 0, cancelled: 1, abandoned: 0, requeued: 0 })
    await startMachine({ url: redis.url, queue, concurrency: 2, ...fast })
    await expect(handle).rejects.toMatchObject({ name: 'CancelledError' })
    expect(await count(`starts:${tag}`)).toBe(1)
  })
})

describe('D10: a job BullMQ fails on its own reaches onError in the process that noticed', () => {
  it('stalled more than maxStalledCount: the worker that takes it next reports it', async () => {
    const queue = freshQueue()
    const fast = { lockDuration: 500, stalledInterval: 300, maxStalledCount: 0 }
    const adder = new BullmqBackgroundTasks({ connection: redis.url, queue, concurrency: 0 })
    local.push(adder)
    const first = await startMachine({ url: redis.url, queue, concurrency: 1, ...fast })
    const tag = `${queue}-stalled`
    const handle = adder.add(hold, { tag, ms: 60_000 }, { id: tag })
    await allStarted(first, [tag])
    await first.kill()
    const next = await startMachine({ url: redis.url, queue, concurrency: 1, ...fast })
    expect(await next.next((m) => m.event === 'onError')).toMatchObject({
      message: expect.stringMatching(/stalled more than allowable limit/),
      task: { id: tag, name: 'hold' },
    })
    await expect(handle).rejects.toMatchObject({ message: expect.stringMatching(/stalled more than allowable limit/) })
    expect(await count(`starts:${tag}`)).toBe(1)
  })
})
