// Durable, distributed background tasks on each store BullMQ runs on — a real redis-server and a
// real PostgreSQL server, both started here — with OS processes standing for machines: producers
// (concurrency 0) and workers, each a forked fixtures/app.mjs.
import { mkdtempSync, rmSync, statSync } from 'node:fs'
import { hostname, tmpdir } from 'node:os'
import { join } from 'node:path'
import { BullmqBackgroundTasks } from '@taskscope/bullmq'
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest'
import { killMachines, type Machine, startMachine } from './processes.ts'
import { type StoreKind, type StoreServer, startStore } from './stores.ts'

let queueNo = 0
const local: BullmqBackgroundTasks[] = []

afterEach(async () => {
  await killMachines()
  await Promise.all(local.splice(0).map((tasks) => tasks.shutdown({ timeout: 0, grace: 0 })))
})

/** A fresh queue per test: tests never see each other's jobs. */
const freshQueue = (): string => `q${process.pid}-${++queueNo}`

const settled = (machine: Machine, id: string) =>
  machine.next<{ status: string; value?: any; error?: any }>((m) => m.event === 'settled' && m.id === id)
const started = (machine: Machine, tag: string) => machine.next((m) => m.event === 'started' && m.tag === tag)

describe.each<StoreKind>(['redis', 'postgres'])(
  'on %s',
  (kind) => {
    let store: StoreServer
    let countersDir: string

    beforeAll(async () => {
      store = await startStore(kind)
      countersDir = mkdtempSync(join(tmpdir(), 'taskscope-counters-'))
    })
    afterAll(async () => {
      await store?.stop()
      if (countersDir !== undefined) rmSync(countersDir, { recursive: true, force: true })
    })

    /** A machine on this store. */
    const start = (settings: { queue: string; concurrency: number; [key: string]: unknown }) =>
      startMachine({ url: store.url, countersDir, ...settings })

    /** A registry in the test process itself: a third "machine" that only adds, reads and cancels. */
    function observer(queue: string): BullmqBackgroundTasks {
      const tasks = new BullmqBackgroundTasks({ connection: store.url, queue, concurrency: 0 })
      local.push(tasks)
      return tasks
    }

    /** How many times the tasks counted `key` (starts:<tag>, completions:<tag>). */
    const count = async (key: string): Promise<number> => {
      try {
        return statSync(join(countersDir, key)).size
      } catch {
        return 0
      }
    }

    describe('D2: add stores the job; a worker process runs it; the outcome comes back to the adder', () => {
      it('returns at once with status queued; the result arrives in the adding process', async () => {
        const queue = freshQueue()
        const producer = await start({ queue, concurrency: 0 })
        const worker = await start({ queue, concurrency: 2 })
        expect(await producer.call({ cmd: 'add', task: 'echo', data: { list: 'weekly' }, id: 'echo-1' })).toEqual({
          id: 'echo-1',
          status: 'queued',
        })
        expect(await settled(producer, 'echo-1')).toMatchObject({
          status: 'fulfilled',
          value: { data: { list: 'weekly' }, pid: worker.pid },
        })
      })

      it('a failure keeps its name, message and code in the adder; onError gets it in the worker', async () => {
        const queue = freshQueue()
        const producer = await start({ queue, concurrency: 0 })
        const worker = await start({ queue, concurrency: 1 })
        await producer.call({ cmd: 'add', task: 'fail', data: { message: 'no list', code: 'E_NO_LIST' }, id: 'fail-1' })
        expect(await settled(producer, 'fail-1')).toMatchObject({
          status: 'rejected',
          error: { name: 'RangeError', message: 'no list', code: 'E_NO_LIST' },
        })
        expect(await worker.next((m) => m.event === 'onError')).toMatchObject({
          message: 'no list',
          code: 'E_NO_LIST',
          task: { id: 'fail-1', name: 'fail' },
        })
        expect(producer.events.filter((m) => m.event === 'onError' || m.event === 'unhandledRejection')).toEqual([])
      })

      it('adding an id that exists returns that job: it runs once, both adders get its result', async () => {
        const queue = freshQueue()
        const first = await start({ queue, concurrency: 0 })
        const second = await start({ queue, concurrency: 0 })
        await first.call({ cmd: 'add', task: 'hold', data: { tag: `${queue}-once`, ms: 200 }, id: 'once' })
        await second.call({ cmd: 'add', task: 'hold', data: { tag: `${queue}-other`, ms: 200 }, id: 'once' })
        const worker = await start({ queue, concurrency: 2 })
        // Whichever add reached Redis first made the job; the other got that same job.
        const [a, b] = [await settled(first, 'once'), await settled(second, 'once')]
        expect(a).toMatchObject({ status: 'fulfilled', value: { pid: worker.pid } })
        expect(b.value).toEqual(a.value)
        expect((await count(`starts:${queue}-once`)) + (await count(`starts:${queue}-other`))).toBe(1)
      })
    })

    describe('D3: a process killed mid-job leaves the job to another', () => {
      it('SIGKILL a worker while it runs a job: another worker completes it, exactly once', async () => {
        const queue = freshQueue()
        const tag = `${queue}-kill`
        const fast = { lockDuration: 1000, stalledInterval: 500 }
        const producer = await start({ queue, concurrency: 0 })
        const doomed = await start({ queue, concurrency: 1, ...fast })
        await producer.call({ cmd: 'add', task: 'hold', data: { tag, ms: 1000 }, id: 'kill-1' })
        await started(doomed, tag)
        await doomed.kill()
        const survivor = await start({ queue, concurrency: 1, ...fast })
        expect(await settled(producer, 'kill-1')).toMatchObject({ status: 'fulfilled', value: { tag, pid: survivor.pid } })
        expect(await count(`starts:${tag}`)).toBe(2)
        expect(await count(`completions:${tag}`)).toBe(1)
      })
    })

    describe('D4: cancel from any process', () => {
      it('a queued job cancelled from a third process never runs; the adder sees it cancelled', async () => {
        const queue = freshQueue()
        const tag = `${queue}-queued`
        const producer = await start({ queue, concurrency: 0 })
        await producer.call({ cmd: 'add', task: 'hold', data: { tag, ms: 10 }, id: 'queued-1' })
        // The producer's add answers at once and stores the job a moment later: cancel once it is stored
        // (a cancel that finds no job does nothing). The store has no event for that: read until it is there.
        const third = observer(queue)
        await expect.poll(() => third.get('queued-1'), { timeout: 30_000 }).toBeDefined()
        await third.cancel('queued-1', 'changed my mind')
        expect(await settled(producer, 'queued-1')).toMatchObject({
          status: 'cancelled',
          error: { name: 'CancelledError', code: 'ERR_CANCELLED' },
        })
        // A worker that starts now runs what comes after it, never the cancelled job.
        const worker = await start({ queue, concurrency: 1 })
        await producer.call({ cmd: 'add', task: 'echo', data: 1, id: 'after-1' })
        expect(await settled(producer, 'after-1')).toMatchObject({ status: 'fulfilled', value: { pid: worker.pid } })
        expect(await count(`starts:${tag}`)).toBe(0)
      })

      it("a running job's signal aborts in the worker; it ends cancelled, with the reason, and is not retried", async () => {
        const queue = freshQueue()
        const tag = `${queue}-running`
        const producer = await start({ queue, concurrency: 0 })
        const worker = await start({ queue, concurrency: 1 })
        await producer.call({ cmd: 'add', task: 'hold', data: { tag }, id: 'running-1', attempts: 3 })
        await started(worker, tag)
        await observer(queue).cancel('running-1', 'stop now')
        expect(await worker.next((m) => m.event === 'aborted' && m.tag === tag)).toMatchObject({
          reason: 'CancelledError',
          cause: 'stop now',
        })
        expect(await settled(producer, 'running-1')).toMatchObject({
          status: 'cancelled',
          error: { name: 'CancelledError', cause: 'stop now' },
        })
        expect(await observer(queue).get('running-1')).toMatchObject({ status: 'cancelled', attempts: 1 })
        expect(await count(`starts:${tag}`)).toBe(1)
        expect(worker.events.filter((m) => m.event === 'onError')).toEqual([]) // a cancellation is not a failure
      })
    })

    describe('D5: shutdown returns unfinished jobs to the queue', () => {
      it('aborts the running job after the timeout, requeues it, and another process completes it', async () => {
        const queue = freshQueue()
        const tag = `${queue}-shutdown`
        const producer = await start({ queue, concurrency: 0 })
        const leaving = await start({ queue, concurrency: 1 })
        await producer.call({ cmd: 'add', task: 'hold', data: { tag, ms: 500 }, id: 'shutdown-1' })
        await started(leaving, tag)
        const report = await leaving.call({ cmd: 'shutdown', timeout: 50 })
        expect(report).toEqual({ completed: 0, failed: 0, cancelled: 0, abandoned: 0, requeued: 1 })
        expect(await leaving.next((m) => m.event === 'aborted')).toMatchObject({ reason: 'ShutdownError' })
        expect(await observer(queue).get('shutdown-1')).toMatchObject({ status: 'queued' })
        const next = await start({ queue, concurrency: 1 })
        expect(await settled(producer, 'shutdown-1')).toMatchObject({ status: 'fulfilled', value: { pid: next.pid } })
        expect([await count(`starts:${tag}`), await count(`completions:${tag}`)]).toEqual([2, 1])
      })

      it('a job that ignores its signal past the grace is abandoned; once its lock expires another process runs it', async () => {
        const queue = freshQueue()
        const tag = `${queue}-abandoned`
        const fast = { lockDuration: 1000, stalledInterval: 500 }
        const producer = await start({ queue, concurrency: 0 })
        const leaving = await start({ queue, concurrency: 1, ...fast })
        await producer.call({ cmd: 'add', task: 'stubborn', data: { tag, ms: 3000 }, id: 'abandoned-1' })
        await started(leaving, tag)
        const report = await leaving.call({ cmd: 'shutdown', timeout: 50, grace: 50 })
        expect(report).toEqual({ completed: 0, failed: 0, cancelled: 0, abandoned: 1, requeued: 0 })
        expect(await leaving.next((m) => m.event === 'aborted')).toMatchObject({ reason: 'ShutdownError' })
        // The process manager's hard stop: the abandoned run never finishes there.
        await leaving.kill()
        const next = await start({ queue, concurrency: 1, ...fast })
        expect(await settled(producer, 'abandoned-1')).toMatchObject({ status: 'fulfilled', value: { tag, pid: next.pid } })
        expect([await count(`starts:${tag}`), await count(`completions:${tag}`)]).toEqual([2, 1])
      })

      it('lets a job that finishes within the timeout complete', async () => {
        const queue = freshQueue()
        const tag = `${queue}-drain`
        const worker = await start({ queue, concurrency: 1 })
        await worker.call({ cmd: 'add', task: 'hold', data: { tag, ms: 100 }, id: 'drain-1' })
        await started(worker, tag)
        expect(await worker.call({ cmd: 'shutdown', timeout: 10_000 })).toEqual({
          completed: 1,
          failed: 0,
          cancelled: 0,
          abandoned: 0,
          requeued: 0,
        })
        expect(await observer(queue).get('drain-1')).toMatchObject({ status: 'fulfilled', result: { tag } })
      })
    })

    describe('D6: get and list read the queue from any process', () => {
      it('shows running and queued jobs with names, statuses, timestamps and the worker running them', async () => {
        const queue = freshQueue()
        const tag = `${queue}-seen`
        const worker = await start({ queue, concurrency: 1 })
        const producer = await start({ queue, concurrency: 0 })
        await producer.call({ cmd: 'add', task: 'hold', data: { tag }, id: 'seen-1' })
        await started(worker, tag)
        await producer.call({ cmd: 'add', task: 'hold', data: { tag: `${tag}-2` }, id: 'seen-2' })
        const tasks = observer(queue)
        expect(await tasks.get('seen-1')).toMatchObject({
          id: 'seen-1',
          name: 'hold',
          status: 'running',
          processedBy: `${hostname()}:${worker.pid}`,
        })
        const list = await tasks.list()
        expect(list.map(({ id, status }) => ({ id, status })).sort((a, b) => a.id.localeCompare(b.id))).toEqual([
          { id: 'seen-1', status: 'running' },
          { id: 'seen-2', status: 'queued' },
        ])
        expect(list[0]!.addedAt).toBeInstanceOf(Date)
        expect(await tasks.get('never-added')).toBeUndefined()
      })
    })
  },
  // Several OS processes start per test (more on PostgreSQL: each opens its Relay node): room for a loaded machine.
  60_000,
)
