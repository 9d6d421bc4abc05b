// `taskscope:task`, `taskscope:background` and `taskscope:group.cancel` for the primitives, with
// real tasks; and that nothing is published, nor any context built, when nobody listens (pool included).
import diagnostics from 'node:diagnostics_channel'
import { CancelledError, createBackgroundTask, TaskGroup, TaskGroupError, Threadpool } from '@taskscope/core'
import { deferred, untilAborted } from '@taskscope/test-support'
import { afterEach, describe, expect, it, vi } from 'vitest'
import { recordChannel, recordTracing, subChannels } from './recorder.js'

const stops: Array<() => void> = []
afterEach(() => {
  for (const stop of stops.splice(0)) stop()
})
function tracing(name: string) {
  const recorder = recordTracing(name)
  stops.push(recorder.stop)
  return recorder.records
}

describe('taskscope:task', () => {
  it('wraps a task: start, end after the synchronous call, then asyncStart and asyncEnd with the result', async () => {
    const records = tracing('taskscope:task')
    const gate = deferred<number>()
    await using group = new TaskGroup({ name: 'g' })
    const task = group.createTask(() => gate.promise, { name: 'answer' })
    expect(records.map((r) => r.event)).toEqual(['start', 'end'])
    expect(records[0]!.context).toMatchObject({ task, group, kind: 'task' })
    gate.resolve(42)
    expect(await task).toBe(42)
    expect(records.map((r) => r.event)).toEqual(['start', 'end', 'asyncStart', 'asyncEnd'])
    expect(new Set(records.map((r) => r.context)).size).toBe(1) // one context object throughout
    expect(records[3]!.snapshot).toMatchObject({ result: 42 })
    expect(records[3]!.snapshot).not.toHaveProperty('cancelled')
  })

  it('publishes a failure as error before asyncEnd', async () => {
    const records = tracing('taskscope:task')
    const boom = new Error('boom')
    const group = new TaskGroup()
    const task = group.createTask(async () => {
      throw boom
    })
    await expect(task).rejects.toBe(boom)
    expect(records.map((r) => r.event)).toEqual(['start', 'end', 'error', 'asyncStart', 'asyncEnd'])
    expect(records[2]!.snapshot).toMatchObject({ error: boom })
    await expect(group.close()).resolves.toBeUndefined() // observed: no TaskGroupError
  })

  it('ends a cancelled task as asyncEnd with cancelled: true, never as error', async () => {
    const records = tracing('taskscope:task')
    const group = new TaskGroup()
    const task = group.createTask((signal) => untilAborted(signal), { name: 'slow' })
    group.cancel(new Error('stop'))
    await expect(task).rejects.toBeInstanceOf(CancelledError)
    await group.close()
    expect(records.map((r) => r.event)).toEqual(['start', 'end', 'asyncStart', 'asyncEnd'])
    const end = records[3]!.snapshot
    expect(end).toMatchObject({ cancelled: true, reason: expect.any(CancelledError) })
    expect(end).not.toHaveProperty('error')
  })

  it('publishes an outcome reached during the synchronous call after end', async () => {
    const records = tracing('taskscope:task')
    await using group = new TaskGroup()
    expect(await group.createTask(() => 'now')).toBe('now')
    expect(records.map((r) => r.event)).toEqual(['start', 'end', 'asyncStart', 'asyncEnd'])
  })

  it("runs the work with the start channel's bound stores, so an APM context reaches it", async () => {
    const { AsyncLocalStorage } = await import('node:async_hooks')
    const store = new AsyncLocalStorage<string>()
    const start = diagnostics.channel('tracing:taskscope:task:start')
    start.bindStore(store, (context: any) => `span of ${context.task.name}`)
    stops.push(() => start.unbindStore(store))
    await using group = new TaskGroup()
    const seen = await group.createTask(async function work() {
      await Promise.resolve()
      return store.getStore()
    })
    expect(seen).toBe('span of work')
  })

  it('a queued task cancelled before it starts publishes nothing', async () => {
    const records = tracing('taskscope:task')
    const group = new TaskGroup({ limit: 1 })
    const first = group.createTask((signal) => untilAborted(signal))
    const queued = group.createTask(async () => 'never')
    group.cancel()
    await Promise.allSettled([first, queued])
    await group.close()
    expect(records.filter((r) => r.context.task === queued)).toEqual([])
    expect(records.filter((r) => r.context.task === first).map((r) => r.event)).toEqual(['start', 'end', 'asyncStart', 'asyncEnd'])
  })

  it('a background task is traced on taskscope:task (kind background) and taskscope:background', async () => {
    const onTask = tracing('taskscope:task')
    const onBackground = tracing('taskscope:background')
    const failed = new Error('job failed')
    const job = createBackgroundTask(
      async () => {
        throw failed
      },
      { name: 'job' },
    )
    await expect(job).rejects.toBe(failed)
    for (const records of [onTask, onBackground]) {
      expect(records.map((r) => r.event)).toEqual(['start', 'end', 'error', 'asyncStart', 'asyncEnd'])
      expect(records[0]!.context.task).toBe(job)
      expect(records[2]!.snapshot).toMatchObject({ error: failed })
    }
    expect(onTask[0]!.context).toMatchObject({ kind: 'background', group: undefined })
  })

  it('a cancelled background task ends with cancelled: true and no error', async () => {
    const records = tracing('taskscope:background')
    const job = createBackgroundTask((signal) => untilAborted(signal), { name: 'loop' })
    job.cancel()
    await expect(job).rejects.toBeInstanceOf(CancelledError)
    expect(records.map((r) => r.event)).toEqual(['start', 'end', 'asyncStart', 'asyncEnd'])
    expect(records[3]!.snapshot).toMatchObject({ cancelled: true })
  })
})

describe('taskscope:group.cancel', () => {
  it('says which group, why (a CancelledError) and what cancelled it', async () => {
    const { messages, stop } = recordChannel('taskscope:group.cancel')
    stops.push(stop)
    const byUser = new TaskGroup({ name: 'user' })
    byUser.cancel('enough')
    const byFailure = new TaskGroup({ name: 'failure' })
    byFailure.createTask(async () => {
      throw new Error('x')
    })
    await expect(byFailure.close()).rejects.toBeInstanceOf(TaskGroupError)
    const byTimeout = new TaskGroup({ name: 'timeout', timeout: 1 })
    const timedOut = byTimeout.createTask((signal) => untilAborted(signal))
    await expect(timedOut).rejects.toBeInstanceOf(CancelledError)
    await expect(byTimeout.close()).rejects.toThrow(/timed out/)
    byUser.cancel('again') // no effect on a cancelled group: not published twice
    expect(messages.map((m) => [m.group.name, m.source, m.reason instanceof CancelledError])).toEqual([
      ['user', 'user', true],
      ['failure', 'failure', true],
      ['timeout', 'timeout', true],
    ])
  })
})

describe('without subscribers', () => {
  it('publishes nothing and builds no context: no channel method is called', async () => {
    const names = ['taskscope:task', 'taskscope:background', 'taskscope:pool.run']
    const points = ['taskscope:group.cancel', 'taskscope:pool.worker.crash'].map((name) => diagnostics.channel(name))
    const channels = [...names.flatMap(subChannels), ...points]
    for (const channel of channels) expect(channel.hasSubscribers).toBe(false)
    const calls = vi.fn()
    const restore = channels.map((channel) => {
      const spied = channel as unknown as Record<string, unknown>
      spied.publish = calls
      spied.runStores = (_context: unknown, fn: (...args: unknown[]) => unknown, thisArg: unknown, ...args: unknown[]) => {
        calls()
        return fn.apply(thisArg, args)
      }
      return () => {
        delete spied.publish
        delete spied.runStores
      }
    })
    try {
      const group = new TaskGroup()
      await group.createTask(async () => 1)
      const failing = group.createTask(async () => {
        throw new Error('x')
      })
      await expect(failing).rejects.toThrow('x')
      group.createTask((signal) => untilAborted(signal))
      group.cancel()
      await group.close()
      const job = createBackgroundTask((signal) => untilAborted(signal))
      job.cancel()
      await expect(job).rejects.toBeInstanceOf(CancelledError)
      await using pool = new Threadpool({ maxThreads: 1 })
      expect(await pool.run((a: number) => a * 2, [21])).toBe(42)
      await expect(pool.run(() => process.exit(3), [])).rejects.toThrow(/exited with code 3/)
    } finally {
      for (const undo of restore) undo()
    }
    expect(calls).not.toHaveBeenCalled()
  })
})
