// BullMQ's PostgreSQL backend as the store, in the test process: the forms `connection` takes (a
// postgres:// URL, the app's pg.Pool, pool settings), what is refused, PostgreSQL down at start
// (coded errors naming it, never its password), a schema not migrated yet.
import { BullmqBackgroundTasks } from '@taskscope/bullmq'
import { defineTask, errorCodes } from '@taskscope/core'
import { collectUnhandled, type PostgresServer, startPostgres } from '@taskscope/test-support'
import { runMigrations } from 'bullmq'
import pg from 'pg'
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest'
// @ts-expect-error a plain .mjs fixture without declarations
import { hold, local as taskEvents } from './fixtures/tasks.mjs'
import { freePort } from './redis-server.ts'

let server: PostgresServer
let queueNo = 0
const open: BullmqBackgroundTasks[] = []
const pools: pg.Pool[] = []
const freshQueue = (): string => `pg${process.pid}-${++queueNo}`
const echo = defineTask('echo', (data: { n: number }) => data.n)

beforeAll(async () => {
  server = await startPostgres()
  const pool = new pg.Pool({ connectionString: server.url, max: 1 })
  const client = await pool.connect()
  try {
    await runMigrations(client)
    await client.query('CREATE DATABASE unmigrated')
  } finally {
    client.release()
    await pool.end()
  }
})
afterEach(async () => {
  await Promise.all(open.splice(0).map((tasks) => tasks.shutdown({ timeout: 0, grace: 0 })))
  await Promise.all(pools.splice(0).map((pool) => pool.end()))
})
afterAll(async () => {
  await server?.stop()
})

function registry(options: ConstructorParameters<typeof BullmqBackgroundTasks>[0]): BullmqBackgroundTasks {
  const tasks = new BullmqBackgroundTasks(options)
  open.push(tasks)
  return tasks
}

describe('the connection option', () => {
  it('store: a value other than redis or postgres is refused, naming the option', () => {
    expect(() => new BullmqBackgroundTasks({ connection: 'postgres://127.0.0.1/db', store: 'mysql' as never })).toThrow(
      expect.objectContaining({ code: errorCodes.invalidArgValue, message: expect.stringMatching(/"store".*'mysql'/) }),
    )
  })

  it('a URL of the other store is refused; a malformed URL is never echoed (it may hold a password)', () => {
    expect(() => new BullmqBackgroundTasks({ connection: 'redis://127.0.0.1:6379', store: 'postgres' })).toThrow(
      expect.objectContaining({ code: errorCodes.invalidArgValue, message: expect.stringMatching(/postgres:\/\//) }),
    )
    let error: any
    try {
      new BullmqBackgroundTasks({ connection: 'postgres://app:hunter2@[broken', store: 'postgres' })
    } catch (thrown) {
      error = thrown
    }
    expect(error).toMatchObject({ code: errorCodes.invalidArgValue })
    expect(error.message).not.toContain('hunter2')
  })

  it('a postgres:// URL: jobs run and their results come back', async () => {
    const tasks = registry({ connection: server.url, queue: freshQueue(), tasks: [echo], concurrency: 1 })
    expect(await tasks.add(echo, { n: 7 })).toBe(7)
  })

  it("the app's own pg.Pool (search_path including bullmq): jobs run, cancel reaches a running job, the pool stays open", async () => {
    const pool = new pg.Pool({ connectionString: server.url, max: 10, options: '-c search_path=bullmq' })
    pools.push(pool)
    const tasks = registry({ connection: pool, queue: freshQueue(), tasks: [echo, hold], concurrency: 1 })
    expect(await tasks.add(echo, { n: 1 })).toBe(1)
    const started = new Promise((resolve) => taskEvents.once('started', resolve))
    const job = tasks.add(hold, { tag: 'pool' })
    await started
    await tasks.cancel(job.id, 'enough')
    await expect(job).rejects.toMatchObject({ name: 'CancelledError', code: errorCodes.cancelled })
    await tasks.shutdown()
    expect((await pool.query('SELECT 1 AS one')).rows).toEqual([{ one: 1 }])
  })

  it("pool settings with store: 'postgres' and BullMQ's migrate: true migrate a fresh database", async () => {
    const connectionString = server.url.replace(/\/postgres$/, '/unmigrated')
    const tasks = registry({
      connection: { connectionString, migrate: true },
      store: 'postgres',
      queue: freshQueue(),
      tasks: [echo],
      concurrency: 1,
    })
    expect(await tasks.add(echo, { n: 3 })).toBe(3)
  })
})

describe('every handle settles', () => {
  it("a burst of 100 jobs run by another registry: each handle settles with its result (BullMQ's events on PostgreSQL can skip some)", async () => {
    const queue = freshQueue()
    const worker = registry({ connection: server.url, queue, tasks: [echo], concurrency: 8 })
    const adder = registry({ connection: server.url, queue })
    await Promise.all([worker.ready(), adder.ready()])
    const jobs = Array.from({ length: 100 }, (_, n) => adder.add(echo, { n }))
    expect(await Promise.all(jobs)).toEqual(Array.from({ length: 100 }, (_, n) => n))
  })
})

describe('PostgreSQL trouble', () => {
  it('down at start: ready() and add reject with ERR_QUEUE_UNAVAILABLE naming the server, never its password', async () => {
    const port = await freePort()
    const errors: unknown[] = []
    const unhandled = await collectUnhandled(async () => {
      const tasks = registry({
        connection: `postgres://app:hunter2@127.0.0.1:${port}/jobs`,
        queue: 'down',
        tasks: [echo],
        concurrency: 1,
        onError: (error) => errors.push(error),
      })
      const expected = expect.objectContaining({
        code: errorCodes.queueUnavailable,
        message: expect.stringContaining(`Cannot reach PostgreSQL at postgres://app:***@127.0.0.1:${port}/jobs`),
      })
      await expect(tasks.ready()).rejects.toEqual(expected)
      await expect(tasks.add(echo, { n: 1 })).rejects.toEqual(expected)
      expect(await tasks.shutdown({ timeout: 0, grace: 0 })).toEqual({ completed: 0, failed: 0, cancelled: 0, abandoned: 0, requeued: 0 })
    })
    expect(unhandled).toEqual([])
    expect(errors.map((error) => String((error as Error).message)).join('\n')).not.toContain('hunter2')
  })
})
