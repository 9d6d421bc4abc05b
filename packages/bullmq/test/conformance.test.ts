// One conformance suite for every background registry: code written against BackgroundRegistry
// (add with defined tasks, idempotent ids, handles, cancel, list, shutdown and its report) runs
// unchanged on the embedded BackgroundTasks and on BullmqBackgroundTasks (a real redis-server, and
// a real PostgreSQL server).
// Where the kinds differ by design (a distributed shutdown hands running jobs back: `requeued`),
// the test says so.
import { BullmqBackgroundTasks } from '@taskscope/bullmq'
import {
  type BackgroundRegistry,
  BackgroundTasks,
  CancelledError,
  ClosedError,
  defineTask,
  errorCodes,
  ShutdownError,
} from '@taskscope/core'
import { collectUnhandled, deferred, type PostgresServer, startPostgres } from '@taskscope/test-support'
import { runMigrations } from 'bullmq'
import pg from 'pg'
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest'
import { type RedisServer, startRedis } from './redis-server.ts'

let redis: RedisServer
let postgres: PostgresServer
let queueNo = 0
const made: BackgroundRegistry[] = []

beforeAll(async () => {
  ;[redis, postgres] = await Promise.all([startRedis(), startPostgres()])
  const pool = new pg.Pool({ connectionString: postgres.url, max: 1 })
  const client = await pool.connect()
  try {
    await runMigrations(client) // BullMQ's schema, once, as a deploy step would
  } finally {
    client.release()
    await pool.end()
  }
})
afterEach(async () => {
  await Promise.all(made.splice(0).map((registry) => registry.shutdown({ timeout: 0, grace: 0 })))
})
afterAll(async () => {
  await Promise.all([redis?.stop(), postgres?.stop()])
})

// The tasks: every registry of the suite defines them (the embedded one runs any).
const runs = new Map<string, number>()
const releases = new Map<string, ReturnType<typeof deferred<void>>>()
const started = new Map<string, ReturnType<typeof deferred<void>>>()
const gate = (tag: string) => {
  if (!releases.has(tag)) releases.set(tag, deferred<void>())
  if (!started.has(tag)) started.set(tag, deferred<void>())
  return { release: releases.get(tag)!, started: started.get(tag)! }
}

const double = defineTask('conformance.double', (data: { n: number }) => data.n * 2)
const fail = defineTask('conformance.fail', (data: { code: string }) => {
  throw Object.assign(new RangeError('out of range'), { code: data.code })
})
/** Runs until released (then returns its tag) or until its signal aborts (then throws the reason). */
const wait = defineTask('conformance.wait', async (data: { tag: string }, signal: AbortSignal) => {
  runs.set(data.tag, (runs.get(data.tag) ?? 0) + 1)
  const { release, started: begun } = gate(data.tag)
  begun.resolve()
  await new Promise<void>((resolve, reject) => {
    const onAbort = (): void => reject(signal.reason)
    signal.addEventListener('abort', onAbort, { once: true })
    release.promise.then(() => {
      signal.removeEventListener('abort', onAbort)
      resolve()
    })
  })
  return data.tag
})
const tasks = [double, fail, wait]

type Kind = { kind: 'embedded' | 'distributed'; store: string; make: () => Promise<BackgroundRegistry> }
const distributed = (store: 'redis' | 'postgres'): Kind => ({
  kind: 'distributed',
  store: `on ${store}`,
  make: async () => {
    const registry = new BullmqBackgroundTasks({
      connection: store === 'redis' ? redis.url : postgres.url,
      queue: `conf${process.pid}-${++queueNo}`,
      tasks,
      concurrency: 4,
      onError: () => {},
    })
    made.push(registry)
    await registry.ready()
    return registry
  },
})
const kinds: Kind[] = [
  {
    kind: 'embedded',
    store: 'in memory',
    make: async () => {
      const registry = new BackgroundTasks({ onError: () => {} })
      made.push(registry)
      return registry
    },
  },
  distributed('redis'),
  distributed('postgres'),
]
const tagged = (label: string): string => `${label}-${++queueNo}`

describe.each(kinds)('BackgroundRegistry conformance: $kind $store', ({ kind, make }) => {
  it('add: a defined task runs with its data; the handle has its id and name and settles with the result', async () => {
    const registry = await make()
    const job = registry.add(double, { n: 21 }, { id: tagged('double') })
    expect(job.id).toMatch(/^double-/)
    expect(job.name).toBe('conformance.double')
    expect(await job).toBe(42)
    expect(job.status).toBe('fulfilled')
  })

  it('a failure rejects the handle with its name, message and code; no unhandled rejection', async () => {
    const registry = await make()
    const unhandled = await collectUnhandled(async () => {
      const job = registry.add(fail, { code: 'E_RANGE' })
      await expect(job).rejects.toMatchObject({ name: 'RangeError', message: 'out of range', code: 'E_RANGE' })
      expect(job.status).toBe('rejected')
    })
    expect(unhandled).toEqual([])
  })

  it('idempotent ids: adding an id still known returns the same handle; the task runs once', async () => {
    const registry = await make()
    const tag = tagged('once')
    const first = registry.add(wait, { tag }, { id: tag })
    await gate(tag).started.promise
    const second = registry.add(wait, { tag }, { id: tag })
    expect(second).toBe(first)
    gate(tag).release.resolve()
    expect(await Promise.all([first, second])).toEqual([tag, tag])
    expect(runs.get(tag)).toBe(1)
  })

  it('list(): awaited, the unfinished tasks as snapshots with id, name and status', async () => {
    const registry = await make()
    const tag = tagged('listed')
    const job = registry.add(wait, { tag }, { id: tag })
    await gate(tag).started.promise
    await vi.waitFor(async () => {
      expect(await registry.list()).toContainEqual(expect.objectContaining({ id: tag, name: 'conformance.wait', status: 'running' }))
    })
    gate(tag).release.resolve()
    await job
    await vi.waitFor(async () => expect((await registry.list()).map(({ id }) => id)).not.toContain(tag))
  })

  it("cancel(): a running task's signal aborts; the handle rejects with CancelledError, status cancelled; not run again", async () => {
    const registry = await make()
    const tag = tagged('cancel')
    const job = registry.add(wait, { tag }, { id: tag })
    await gate(tag).started.promise
    await vi.waitFor(() => expect(job.status).toBe('running'))
    await job.cancel('not wanted')
    await expect(job).rejects.toBeInstanceOf(CancelledError)
    expect(job.status).toBe('cancelled')
    expect(runs.get(tag)).toBe(1)
  })

  it('data that does not survive JSON is a coded TypeError at add, on both', async () => {
    const registry = await make()
    for (const data of [undefined, { n: -0 }, { n: Number.NaN }, { when: new Date(0) }]) {
      expect(() => registry.add(double, data as { n: number })).toThrow(
        expect.objectContaining({ name: 'TypeError', code: errorCodes.taskDataNotJson }),
      )
    }
  })

  it('snapshot(): the tasks running here and the outcomes, never throwing', async () => {
    const registry = await make()
    const tag = tagged('snap')
    const job = registry.add(wait, { tag }, { id: tag })
    await gate(tag).started.promise
    await vi.waitFor(() =>
      expect(registry.snapshot().running).toEqual([{ id: tag, name: 'conformance.wait', status: 'running', ageMs: expect.any(Number) }]),
    )
    expect(registry.active).toBe(1)
    gate(tag).release.resolve()
    await job
    await vi.waitFor(() => expect(registry.snapshot()).toMatchObject({ running: [], outcomes: { fulfilled: 1 }, store: 'available' }))
  })

  it('shutdown(): refuses new tasks (ClosedError), stops what runs at the timeout, reports each task once; idempotent', async () => {
    const registry = await make()
    const done = tagged('done')
    const cut = tagged('cut')
    const finishing = registry.add(wait, { tag: done }, { id: done })
    const running = registry.add(wait, { tag: cut }, { id: cut })
    await Promise.all([gate(done).started.promise, gate(cut).started.promise])
    gate(done).release.resolve()
    await finishing
    const shutdown = registry.shutdown({ timeout: 0, grace: 2000 })
    expect(registry.shutdown()).toBe(shutdown)
    expect(registry.closed).toBe(true)
    expect(() => registry.add(double, { n: 1 })).toThrow(ClosedError)
    const report = await shutdown
    if (kind === 'embedded') {
      // Embedded: the task is cancelled with ShutdownError (nowhere else could run it).
      expect(report).toEqual({ completed: 0, failed: 0, cancelled: 1, abandoned: 0 })
      await expect(running).rejects.toBeInstanceOf(ShutdownError)
    } else {
      // Distributed: the job goes back to the queue for another process; its handle here lets go.
      expect(report).toEqual({ completed: 0, failed: 0, cancelled: 0, abandoned: 0, requeued: 1 })
      await expect(running).rejects.toBeInstanceOf(ClosedError)
    }
    expect(runs.get(cut)).toBe(1)
  })
})
