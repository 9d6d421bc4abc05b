// The registry in the test process: bad input refused at add, the runtime plug, Redis down at
// start, and Redis lost while a job runs.
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { BullmqBackgroundTasks } from '@taskscope/bullmq'
import { createRuntime, defineTask, errorCodes } from '@taskscope/core'
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest'
// @ts-expect-error a plain .mjs fixture without declarations
import { hold, local as taskEvents } from './fixtures/tasks.mjs'
import { freePort, type RedisServer, startRedis } from './redis-server.ts'

let redis: RedisServer
let queueNo = 0
const open: BullmqBackgroundTasks[] = []
const freshQueue = (): string => `in${process.pid}-${++queueNo}`

beforeAll(async () => {
  redis = await startRedis()
})
afterEach(async () => {
  await Promise.all(open.splice(0).map((tasks) => tasks.shutdown({ timeout: 0, grace: 0 })))
})
afterAll(async () => {
  await redis?.stop()
})

function registry(options: Partial<ConstructorParameters<typeof BullmqBackgroundTasks>[0]> = {}): BullmqBackgroundTasks {
  const tasks = new BullmqBackgroundTasks({ connection: redis.url, queue: freshQueue(), ...options })
  open.push(tasks)
  return tasks
}

/** Collects unhandled rejections while `fn` runs. */
async function unhandledDuring(fn: () => Promise<void>): Promise<unknown[]> {
  const seen: unknown[] = []
  const onUnhandled = (reason: unknown): void => void seen.push(reason)
  process.on('unhandledRejection', onUnhandled)
  try {
    await fn()
    await new Promise((resolve) => setImmediate(resolve))
  } finally {
    process.off('unhandledRejection', onUnhandled)
  }
  return seen
}

const echo = defineTask('echo', (data: { n: number }) => data.n)

describe('D1: what cannot travel is refused at add', () => {
  it('a closure or a promise: ERR_TASK_NOT_DEFINED', () => {
    const tasks = registry()
    expect(() => tasks.add((async () => 1) as never, undefined as never)).toThrow(
      expect.objectContaining({
        name: 'TypeError',
        code: errorCodes.taskNotDefined,
        message: expect.stringMatching(/defineTask\(\).*Received function/),
      }),
    )
    expect(() => tasks.add(Promise.resolve(1) as never, undefined as never)).toThrow(
      expect.objectContaining({ code: errorCodes.taskNotDefined }),
    )
  })

  it('data that does not survive JSON: ERR_TASK_DATA_NOT_JSON, naming where', () => {
    const tasks = registry()
    expect(() => tasks.add(echo, { n: 1, at: new Date() } as never)).toThrow(
      expect.objectContaining({
        name: 'TypeError',
        code: errorCodes.taskDataNotJson,
        message: expect.stringMatching(/data\.at is a Date/),
      }),
    )
  })

  it('ids BullMQ cannot take, and bad retry options, with the option named', () => {
    const tasks = registry()
    for (const id of ['', '42', 'a:b']) {
      expect(() => tasks.add(echo, { n: 1 }, { id })).toThrow(
        expect.objectContaining({ code: errorCodes.invalidArgValue, message: expect.stringMatching(/"id"/) }),
      )
    }
    expect(() => tasks.add(echo, { n: 1 }, { attempts: 0 })).toThrow(
      expect.objectContaining({ code: errorCodes.outOfRange, message: expect.stringMatching(/"attempts"/) }),
    )
    expect(() => tasks.add(echo, { n: 1 }, { backoff: { type: 'linear' as never, delay: 1 } })).toThrow(
      expect.objectContaining({ code: errorCodes.invalidArgValue, message: expect.stringMatching(/"backoff.type"/) }),
    )
  })

  it('options: a connection that is not a redis URL, tasks that are not definitions', () => {
    expect(() => new BullmqBackgroundTasks({ connection: 'http://x' })).toThrow(
      expect.objectContaining({ code: errorCodes.invalidArgValue }),
    )
    expect(() => new BullmqBackgroundTasks({ connection: redis.url, tasks: [() => 1] as never })).toThrow(
      expect.objectContaining({ code: errorCodes.invalidArgType, message: expect.stringMatching(/"tasks\[0\]"/) }),
    )
  })
})

describe('the runtime drives it', () => {
  it('plugs into createRuntime({ backgroundTasks }): stats count its jobs, close() shuts it down', async () => {
    const tasks = new BullmqBackgroundTasks({ connection: redis.url, queue: freshQueue(), tasks: [hold], concurrency: 1 })
    // The runtime's option type names the embedded class; it accepts any registry with add and shutdown.
    const runtime = createRuntime({ backgroundTasks: tasks, shutdownTimeout: 50 })
    const started = new Promise((resolve) => taskEvents.once('started', resolve))
    const job = tasks.add(hold, { tag: 'runtime' })
    await started
    expect(runtime.stats().background.active).toBe(1)
    const summary = await runtime.close()
    expect(summary.background).toEqual({ completed: 0, failed: 0, cancelled: 0, abandoned: 0, requeued: 1 })
    const reader = registry({ queue: tasks.queueName })
    expect(await reader.get(job.id)).toMatchObject({ status: 'queued' })
  })
})

describe('Redis trouble', () => {
  it('down at start: ready() and add reject with ERR_QUEUE_UNAVAILABLE naming the connection; onError hears it', async () => {
    const url = `redis://127.0.0.1:${await freePort()}`
    const errors: unknown[] = []
    const unhandled = await unhandledDuring(async () => {
      const tasks = new BullmqBackgroundTasks({
        connection: url,
        queue: 'down',
        tasks: [echo],
        concurrency: 1,
        onError: (error) => errors.push(error),
      })
      open.push(tasks)
      const expected = expect.objectContaining({
        code: errorCodes.queueUnavailable,
        message: expect.stringContaining(`Cannot reach Redis at ${url}`),
      })
      await expect(tasks.ready()).rejects.toEqual(expected)
      await expect(tasks.add(echo, { n: 1 })).rejects.toEqual(expected)
      expect(errors).toContainEqual(expected)
    })
    expect(unhandled).toEqual([])
  })

  it('lost while a job runs: the job is not lost, it completes once Redis is back; the error is logged, not thrown', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'taskscope-redis-'))
    const persistence = ['--appendonly', 'yes', '--appendfsync', 'always', '--dir', dir]
    let server = await startRedis({ args: persistence })
    try {
      const errors: unknown[] = []
      const unhandled = await unhandledDuring(async () => {
        const tasks = new BullmqBackgroundTasks({
          connection: server.url,
          queue: freshQueue(),
          tasks: [hold],
          concurrency: 1,
          onError: (error) => errors.push(error),
        })
        open.push(tasks)
        const started = new Promise((resolve) => taskEvents.once('started', resolve))
        const job = tasks.add(hold, { tag: 'lost', ms: 2500 }, { id: 'lost-1' })
        await started
        await server.stop()
        server = await startRedis({ port: server.port, args: persistence })
        expect(await job).toMatchObject({ tag: 'lost' })
        expect(job.status).toBe('fulfilled')
        await tasks.shutdown()
      })
      expect(unhandled).toEqual([])
      expect(errors).toContainEqual(
        expect.objectContaining({
          code: errorCodes.queueUnavailable,
          message: expect.stringContaining(`Lost the connection to Redis at ${server.url}`),
        }),
      )
    } finally {
      await server.stop()
      await rm(dir, { recursive: true, force: true })
    }
  })
})
