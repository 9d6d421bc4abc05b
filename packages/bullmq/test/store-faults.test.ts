// Each store in trouble, Redis and PostgreSQL alike: frozen (SIGSTOP) for 10 s then resumed, killed then
// restarted on the same port and data. OS processes stand for machines (a producer and a worker);
// nothing is lost — every job added before the fault completes exactly once, its outcome reaches
// the adder — and while the store is down, calls fail with ERR_QUEUE_UNAVAILABLE naming it.
import { mkdtempSync, rmSync, statSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { setTimeout as sleep } from 'node:timers/promises'
import { BullmqBackgroundTasks } from '@taskscope/bullmq'
import { defineTask, errorCodes } from '@taskscope/core'
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest'
import { killMachines, type Machine, startMachine } from './processes.ts'
import { type StoreKind, type StoreServer, startStore } from './stores.ts'

let queueNo = 0
const local: BullmqBackgroundTasks[] = []
const freshQueue = (): string => `f${process.pid}-${++queueNo}`
const jobs = 8

afterEach(async () => {
  await killMachines()
  await Promise.all(local.splice(0).map((tasks) => tasks.shutdown({ timeout: 0, grace: 0 })))
})

const settled = (machine: Machine, id: string) =>
  machine.next<{ status: string; value?: any; error?: any }>((m) => m.event === 'settled' && m.id === id)

describe.each<StoreKind>(['redis', 'postgres'])('on %s', (kind) => {
  let store: StoreServer
  let countersDir: string
  const name = kind === 'redis' ? 'Redis' : 'PostgreSQL'

  beforeAll(async () => {
    store = await startStore(kind)
    countersDir = mkdtempSync(join(tmpdir(), 'taskscope-counters-'))
  })
  afterAll(async () => {
    await store?.stop()
    if (countersDir !== undefined) rmSync(countersDir, { recursive: true, force: true })
  })

  const count = (key: string): number => {
    try {
      return statSync(join(countersDir, key)).size
    } catch {
      return 0
    }
  }

  /** A producer and a worker, and `jobs` jobs added by the producer; resolves once the first one runs. */
  async function busyQueue(
    queue: string,
    locks: Record<string, number> = {},
  ): Promise<{ producer: Machine; worker: Machine; ids: string[] }> {
    const producer = await startMachine({ url: store.url, countersDir, queue, concurrency: 0 })
    const worker = await startMachine({ url: store.url, countersDir, queue, concurrency: 2, ...locks })
    const ids: string[] = []
    for (let n = 0; n < jobs; n++) {
      const id = `job-${n}`
      await producer.call({ cmd: 'add', task: 'hold', data: { tag: `${queue}-${n}`, ms: 300 }, id })
      ids.push(id)
    }
    await worker.next((m) => m.event === 'started')
    // The producer's adds answer before the jobs are stored: the fault comes once all are stored.
    const reader = new BullmqBackgroundTasks({ connection: store.url, queue, onError: () => {} }) // its lost connection is the fault under test
    local.push(reader)
    const stored = async (): Promise<boolean> => (await Promise.all(ids.map((id) => reader.get(id)))).every(Boolean)
    await expect.poll(stored, { timeout: 30_000 }).toBe(true)
    return { producer, worker, ids }
  }

  /**
   * Every job completed and its result reached the adder, once. `exactly`: each ran to its end
   * exactly once; else at least once (a job that ended while the store was down could not record
   * its end: BullMQ runs it again once the store is back — at least once, never twice at once).
   */
  async function everyJobDone(queue: string, producer: Machine, ids: string[], exactly: boolean): Promise<void> {
    for (const [n, id] of ids.entries()) {
      expect(await settled(producer, id)).toMatchObject({ status: 'fulfilled', value: { tag: `${queue}-${n}` } })
      const completions = count(`completions:${queue}-${n}`)
      if (exactly) expect(completions).toBe(1)
      else expect(completions).toBeGreaterThanOrEqual(1)
    }
    expect(producer.events.filter((m) => m.event === 'settled')).toHaveLength(ids.length)
    expect(producer.events.filter((m) => m.event === 'unhandledRejection')).toEqual([])
  }

  it('frozen (SIGSTOP) for 10 s, then resumed: every job completes once', async () => {
    const queue = freshQueue()
    // BullMQ's default locks (30 s) outlast the freeze: no job is taken for stalled.
    const { producer, worker, ids } = await busyQueue(queue)
    store.freeze()
    try {
      await sleep(10_000) // the fault itself: the store does not answer for 10 s
    } finally {
      store.thaw()
    }
    await everyJobDone(queue, producer, ids, true)
    expect(worker.events.filter((m) => m.event === 'unhandledRejection')).toEqual([])
  }, 120_000)

  it('killed, then restarted: coded errors while it is down; every job completes once after', async () => {
    const queue = freshQueue()
    // Shorter locks than BullMQ's 30 s: a job whose end could not be recorded runs again sooner.
    const { producer, worker, ids } = await busyQueue(queue, { lockDuration: 5000, stalledInterval: 2000 })
    const echo = defineTask('echo', (n: number) => n)
    let heardLost!: () => void
    const lost = new Promise<void>((resolve) => (heardLost = resolve))
    const observer = new BullmqBackgroundTasks({
      connection: store.url,
      queue,
      onError: (error) => {
        if ((error as { code?: unknown }).code === errorCodes.queueUnavailable) heardLost()
      },
    })
    local.push(observer)
    await observer.ready()
    await store.kill()
    // Redis: our client notices the closed socket (and says so); PostgreSQL: the next query does.
    if (kind === 'redis') await lost
    try {
      const unavailable = expect.objectContaining({
        code: errorCodes.queueUnavailable,
        message: expect.stringContaining(`${name} at`),
      })
      await expect(observer.add(echo, 1, { id: 'while-down' })).rejects.toEqual(unavailable)
      await expect(observer.get(ids[0]!)).rejects.toEqual(unavailable)
    } finally {
      await store.restart()
    }
    await everyJobDone(queue, producer, ids, false)
    // No job was failed for the store's restart (e.g. "the database system is not yet accepting connections").
    expect(worker.events.filter((m) => m.event === 'onError' && m.task !== undefined)).toEqual([])
    // Back: adds work again.
    await producer.call({ cmd: 'add', task: 'echo', data: 'after', id: 'after' })
    expect(await settled(producer, 'after')).toMatchObject({ status: 'fulfilled', value: { data: 'after', pid: worker.pid } })
  }, 120_000)
})
