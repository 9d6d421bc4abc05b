// Whatever the store does: a real redis-server killed (SIGKILL), frozen (SIGSTOP) and restarted
// without persistence under a running registry; two producer processes racing the same ids; a
// cancel request that must not outlive its job; what JSON cannot carry. Each test has its own
// redis-server (some kill it).
import { BullmqBackgroundTasks } from '@taskscope/bullmq'
import { createRuntime, defineTask, errorCodes } from '@taskscope/core'
import { collectUnhandled } from '@taskscope/test-support'
import { afterEach, describe, expect, it, vi } from 'vitest'
// @ts-expect-error a plain .mjs fixture without declarations
import { hold, local as taskEvents } from './fixtures/tasks.mjs'
import { killMachines, startMachine } from './processes.ts'
import { type RedisServer, startRedis } from './redis-server.ts'

const servers: RedisServer[] = []
const open: BullmqBackgroundTasks[] = []
let queueNo = 0
const freshQueue = (): string => `f${process.pid}-${++queueNo}`

afterEach(async () => {
  await killMachines()
  // Bounded now, whatever state the server was left in.
  await Promise.all(open.splice(0).map((tasks) => tasks.shutdown({ timeout: 0, grace: 0 })))
  await Promise.all(servers.splice(0).map((server) => server.stop()))
})

async function redis(port?: number): Promise<RedisServer> {
  const server = await startRedis(port === undefined ? {} : { port })
  servers.push(server)
  return server
}

function registry(server: RedisServer, options: Partial<ConstructorParameters<typeof BullmqBackgroundTasks>[0]> = {}) {
  const tasks = new BullmqBackgroundTasks({ connection: server.url, queue: freshQueue(), onError: () => {}, ...options })
  open.push(tasks)
  return tasks
}

const startedHere = (tag: string): Promise<void> =>
  new Promise((resolve) => {
    const onStarted = (message: { tag: string }): void => {
      if (message.tag !== tag) return
      taskEvents.off('started', onStarted)
      resolve()
    }
    taskEvents.on('started', onStarted)
  })

/** Milliseconds `promise` took to settle. */
async function timed(promise: Promise<unknown>): Promise<number> {
  const start = performance.now()
  await promise
  return performance.now() - start
}

// timeout + grace + closing the connections (1 s), plus room for a loaded machine.
const bound = (timeout: number, grace: number): number => timeout + grace + 1000 + 1500

describe('shutdown() is bounded whatever Redis does', () => {
  const cases: [string, (server: RedisServer) => Promise<void>][] = [
    ['killed (SIGKILL)', (server) => server.kill()],
    ['frozen (SIGSTOP)', async (server) => server.freeze()],
    [
      'restarting (killed, then up again on its port)',
      async (server) => {
        await server.kill()
        await redis(server.port)
      },
    ],
  ]
  it.each(cases)('Redis %s while a job runs: returns within timeout + grace + 1 s, the job reported abandoned', async (_label, fault) => {
    const server = await redis()
    const tasks = registry(server, { tasks: [hold], concurrency: 2 })
    await tasks.ready()
    const tag = `${freshQueue()}-running`
    const running = startedHere(tag)
    tasks.add(hold, { tag, ms: 60_000 })
    await running
    await fault(server)
    const unhandled = await collectUnhandled(async () => {
      let report: unknown
      const ms = await timed(tasks.shutdown({ timeout: 1000, grace: 500 }).then((r) => (report = r)))
      expect(ms).toBeLessThan(bound(1000, 500))
      // Its hand-back could not reach Redis: reported, and the job stays there for another process.
      expect(report).toMatchObject({ completed: 0, failed: 0, abandoned: 1 })
    })
    expect(unhandled).toEqual([])
    server.thaw()
  })

  it('runtime.close() with Redis killed returns within its shutdownTimeout + grace + 2 s', async () => {
    const server = await redis()
    const tasks = registry(server, { tasks: [hold], concurrency: 1 })
    await tasks.ready()
    const runtime = createRuntime({ backgroundTasks: tasks, shutdownTimeout: 1000, logger: { error() {}, warn() {}, info() {} } })
    const tag = `${freshQueue()}-runtime`
    const running = startedHere(tag)
    tasks.add(hold, { tag, ms: 60_000 })
    await running
    await server.kill()
    let summary: Awaited<ReturnType<typeof runtime.close>> | undefined
    const ms = await timed(runtime.close().then((s) => (summary = s)))
    expect(ms).toBeLessThan(1000 + 1000 + 2000 + 1500)
    expect(summary?.background).toMatchObject({ abandoned: 1 })
  })

  it('runtime.close() with Redis frozen returns within its bound', async () => {
    const server = await redis()
    const tasks = registry(server, { tasks: [hold], concurrency: 1 })
    await tasks.ready()
    const runtime = createRuntime({ backgroundTasks: tasks, shutdownTimeout: 500, logger: { error() {}, warn() {}, info() {} } })
    const tag = `${freshQueue()}-frozen`
    const running = startedHere(tag)
    tasks.add(hold, { tag, ms: 60_000 })
    await running
    server.freeze()
    const ms = await timed(runtime.close())
    expect(ms).toBeLessThan(500 + 500 + 2000 + 1500)
    server.thaw()
  })
})

describe('stats() and inspect() with a BullMQ registry, Redis up and down', () => {
  it('never throw, show the job running here, and say when the store is unavailable; no unhandled rejection', async () => {
    const server = await redis()
    const tasks = registry(server, { tasks: [hold], concurrency: 1 })
    await tasks.ready()
    const runtime = createRuntime({ backgroundTasks: tasks, logger: { error() {}, warn() {}, info() {} } })
    const tag = `${freshQueue()}-inspect`
    const running = startedHere(tag)
    const job = tasks.add(hold, { tag, ms: 60_000 }, { id: tag })
    await running
    const unhandled = await collectUnhandled(async () => {
      expect(runtime.inspect()).toMatchObject({
        background: [{ id: job.id, name: 'hold', status: 'running', ageMs: expect.any(Number) }],
        backgroundStore: 'available',
      })
      expect(runtime.stats().background).toMatchObject({ active: 1, store: 'available' })
      await server.kill()
      await vi.waitFor(() => expect(runtime.inspect().backgroundStore).toBe('unavailable'))
      expect(runtime.stats().background).toMatchObject({ active: 1, store: 'unavailable' })
    })
    expect(unhandled).toEqual([])
    await runtime.close({ timeout: 0 })
  })
})

describe('a handle whose job vanished', () => {
  it('rejects with ERR_JOB_LOST once Redis is back without it (a restart without persistence)', async () => {
    const server = await redis()
    const tasks = registry(server, { concurrency: 0 })
    await tasks.ready()
    const job = tasks.add(hold, { tag: 'lost', ms: 10 }, { id: 'lost-1' })
    await vi.waitFor(async () => expect(await tasks.get('lost-1')).toMatchObject({ status: 'queued' }))
    await server.kill()
    await redis(server.port)
    await expect(job).rejects.toMatchObject({
      code: errorCodes.jobLost,
      message: expect.stringMatching(/"lost-1".*no longer in the queue/),
    })
    expect(job.status).toBe('rejected')
  })
})

describe('two producer processes racing the same ids', () => {
  it('every handle settles with the real result, and each job runs once', async () => {
    const server = await redis()
    const queue = freshQueue()
    const worker = await startMachine({ url: server.url, queue, concurrency: 8 })
    const [a, b] = await Promise.all([
      startMachine({ url: server.url, queue, concurrency: 0 }),
      startMachine({ url: server.url, queue, concurrency: 0 }),
    ])
    const ids = Array.from({ length: 150 }, (_, i) => `race-${i}`)
    type Settled = { id: string; value?: { data: unknown; pid: number }; error?: unknown }[]
    const [fromA, fromB] = await Promise.all([
      a.call<Settled>({ cmd: 'addMany', task: 'echo', ids, data: { n: 1 } }),
      b.call<Settled>({ cmd: 'addMany', task: 'echo', ids, data: { n: 1 } }),
    ])
    for (const settled of [...fromA, ...fromB]) expect(settled).toEqual({ id: settled.id, value: { data: { n: 1 }, pid: worker.pid } })
  })
})

describe('a cancel request applies to the job it was for', () => {
  it('not to a later job that reuses the id', async () => {
    const server = await redis()
    const queue = freshQueue()
    const adder = registry(server, { queue, concurrency: 0, keep: { completed: 0, failed: 0 } })
    const first = registry(server, { queue, tasks: [hold], concurrency: 1 })
    const second = registry(server, { queue, tasks: [hold], concurrency: 1 })
    await Promise.all([adder.ready(), first.ready(), second.ready()])
    const old = adder.add(hold, { tag: 'reuse-old', ms: 60_000 }, { id: 'reuse' })
    await vi.waitFor(() => expect(first.active + second.active).toBe(1))
    const runner = first.active === 1 ? first : second
    const other = runner === first ? second : first
    await old.cancel('not wanted')
    await expect(old).rejects.toMatchObject({ name: 'CancelledError' })
    // Only the other worker is left: it heard the cancel request, but not for this new job.
    await runner.shutdown({ timeout: 0, grace: 0 })
    const again = adder.add(hold, { tag: 'reuse-new', ms: 50 }, { id: 'reuse' })
    await expect(again).resolves.toMatchObject({ tag: 'reuse-new' })
    expect(other.active).toBe(0)
  })
})

describe('D1 on the queue: no silent change in transit', () => {
  const nothing = defineTask('nothing', (): undefined => undefined)
  it('a result of undefined arrives as undefined (get() too)', async () => {
    const server = await redis()
    const tasks = registry(server, { tasks: [nothing], concurrency: 1 })
    const job = tasks.add(nothing, null, { id: 'nothing-1' })
    expect(await job).toBe(undefined)
    expect(await tasks.get('nothing-1')).toMatchObject({ status: 'fulfilled', result: undefined })
  })

  it.each([
    ['undefined', undefined],
    ['-0', { n: -0 }],
    ['an array with an extra property', Object.assign([1], { extra: 1 })],
    [
      'a throwing getter',
      Object.defineProperty({}, 'x', {
        enumerable: true,
        get: () => {
          throw new Error('no')
        },
      }),
    ],
    [
      'a Proxy with a throwing trap',
      new Proxy(
        {},
        {
          getPrototypeOf: () => {
            throw new Error('trap')
          },
        },
      ),
    ],
    ['a 20,000-deep array', Array.from({ length: 20_000 }).reduce<unknown[]>((inner) => [inner], [])],
  ])('%s is refused at add with ERR_TASK_DATA_NOT_JSON', async (_label, data) => {
    const server = await redis()
    const tasks = registry(server, { concurrency: 0 })
    expect(() => tasks.add(hold, data)).toThrow(expect.objectContaining({ name: 'TypeError', code: errorCodes.taskDataNotJson }))
  })
})
