import { CancelledError, Task, TaskGroup, TaskGroupError } from '@taskscope/core'
import { deferred, flush, rejectionOf } from '@taskscope/test-support'
import { describe, expect, it } from 'vitest'

describe('Task', () => {
  it('is named after its function, else Task-<n>, unless named', async () => {
    await using group = new TaskGroup()
    const named = group.createTask(async function loadUser() {})
    const anonymous = group.createTask(Promise.resolve(1))
    const given = group.createTask(() => 1, { name: 'given' })
    expect([named.name, anonymous.name, given.name]).toEqual(['loadUser', 'Task-1', 'given'])
  })

  it('numbers unnamed tasks in the order they were created, whenever the name is first read', async () => {
    await using group = new TaskGroup()
    const tasks = [0, 1, 2].map(() => group.createTask(() => 1))
    group.createTask(() => 1, { name: 'named' }) // takes no number
    const last = group.createTask(() => 1)
    expect([last.name, tasks[2]!.name, tasks[0]!.name, tasks[1]!.name]).toEqual(['Task-4', 'Task-3', 'Task-1', 'Task-2'])
  })

  it('settles awaits made before and after its work settles, and Promise.all, with the same outcome', async () => {
    await using group = new TaskGroup()
    const gate = deferred<number>()
    const task = group.createTask(() => gate.promise)
    const early = task.then((v) => v * 2)
    const all = Promise.all([task, task])
    gate.resolve(21)
    expect(await early).toBe(42)
    expect(await all).toEqual([21, 21])
    expect(await task).toBe(21)
  })

  it('is PromiseLike: Promise.all, then, catch and finally work', async () => {
    await using group = new TaskGroup()
    const tasks: Task<number>[] = [1, 2, 3].map((n) => group.createTask(async () => n * 2))
    expect(await Promise.all(tasks)).toEqual([2, 4, 6])
    expect(await tasks[0]!.then((v) => v + 1)).toBe(3)
    let finallyRan = false
    expect(await tasks[1]!.finally(() => (finallyRan = true))).toBe(4)
    expect(finallyRan).toBe(true)
    expect(group.size).toBe(0)
  })

  it('synchronous work settles at once', async () => {
    await using group = new TaskGroup()
    const task = group.createTask(() => 'now')
    expect(task.status).toBe('fulfilled')
    expect(await task).toBe('now')
  })
})

describe('Task signal and cancellation', () => {
  it('creates its own signal lazily, already aborted when the task was cancelled before', async () => {
    await using group = new TaskGroup()
    const gate = deferred()
    const task = group.createTask(() => gate.promise)
    task.cancel('early')
    const { signal } = task
    expect(signal.aborted).toBe(true)
    expect(signal.reason).toBeInstanceOf(CancelledError)
    expect(signal.reason.cause).toBe('early')
    gate.resolve()
    await task
  })

  it('cancel() after the task settled changes nothing', async () => {
    await using group = new TaskGroup()
    const task = group.createTask(async () => 'done')
    await task
    task.cancel()
    expect(task.status).toBe('fulfilled')
    expect(task.signal.aborted).toBe(false)
  })

  it('a work that rejects with a non-cancellation after being cancelled is a failure', async () => {
    const group = new TaskGroup()
    const boom = new Error('cleanup failed')
    const task = group.createTask(async (signal) => {
      await flush()
      if (signal.aborted) throw boom
    })
    task.cancel()
    expect(await rejectionOf(task)).toBe(boom)
    expect(task.status).toBe('rejected')
    await group.close()
  })
})

describe('Task failures', () => {
  const unhandled = () => {
    const seen: unknown[] = []
    const listener = (reason: unknown) => seen.push(reason)
    process.on('unhandledRejection', listener)
    return { seen, [Symbol.dispose]: () => process.off('unhandledRejection', listener) }
  }
  const turn = () => new Promise((resolve) => setImmediate(resolve))

  it('a failure nobody awaits is reported by close() once, and is never an unhandled rejection', async () => {
    using rejections = unhandled()
    const group = new TaskGroup()
    const boom = new Error('boom')
    const gate = deferred()
    group.createTask(async () => {
      await gate.promise
      throw boom
    })
    gate.resolve()
    await turn()
    await turn()
    const error = await rejectionOf(group.close())
    expect(error).toBeInstanceOf(TaskGroupError)
    expect((error as TaskGroupError).errors).toEqual([boom])
    expect(rejections.seen).toEqual([])
  })

  it('a failure awaited while the task ran is observed: the await rejects with it and close() does not report it again', async () => {
    using rejections = unhandled()
    const group = new TaskGroup({ failFast: false })
    const boom = new Error('boom')
    const gate = deferred()
    const task = group.createTask(async () => {
      await gate.promise
      throw boom
    })
    const awaited = rejectionOf(Promise.all([task]))
    gate.resolve()
    expect(await awaited).toBe(boom)
    await group.close()
    expect(task.status).toBe('rejected')
    await turn()
    expect(rejections.seen).toEqual([])
  })

  it('a cancelled task rejects its awaits with the CancelledError, not the AbortError its work threw', async () => {
    using rejections = unhandled()
    await using group = new TaskGroup()
    const task = group.createTask(async (signal) => {
      await new Promise((_, reject) =>
        signal.addEventListener('abort', () => reject(new DOMException('stop', 'AbortError')), { once: true }),
      )
    })
    const awaited = rejectionOf(task)
    task.cancel('enough')
    const reason = await awaited
    expect(reason).toBeInstanceOf(CancelledError)
    expect((reason as CancelledError).cause).toBe('enough')
    expect(task.status).toBe('cancelled')
    await turn()
    expect(rejections.seen).toEqual([])
  })
})

describe('Task observation', () => {
  const failing = (group: TaskGroup, error: Error): Task<never> =>
    group.createTask(async () => {
      await flush()
      throw error
    })

  it('is a native promise: await and Promise.all attach to it directly, and then() gives plain promises', async () => {
    await using group = new TaskGroup()
    const task = group.createTask(async () => 7)
    expect(task).toBeInstanceOf(Promise)
    expect(Object.prototype.toString.call(task)).toBe('[object Task]')
    expect(Promise.resolve(task)).toBe(task) // no thenable step: no wrapper promise
    const derived = task.then((v) => v + 1)
    expect(Object.getPrototypeOf(derived)).toBe(Promise.prototype)
    expect(await derived).toBe(8)
  })

  it.each([
    ['await', (t: Task<never>) => (async () => await t)()],
    ['Promise.all', (t: Task<never>) => Promise.all([t])],
    [
      'Promise.allSettled',
      (t: Task<never>) => Promise.allSettled([t]).then(([outcome]) => Promise.reject((outcome as PromiseRejectedResult).reason)),
    ],
    ['Promise.race', (t: Task<never>) => Promise.race([t])],
    ['Promise.any', (t: Task<never>) => Promise.any([t])],
    ['returned from an async function', (t: Task<never>) => (async () => t)()],
    ['resolving another promise with it', (t: Task<never>) => new Promise((resolve) => resolve(t))],
    ['then', (t: Task<never>) => t.then(undefined, (e) => Promise.reject(e))],
    ['catch', (t: Task<never>) => t.catch((e) => Promise.reject(e))],
    ['finally', (t: Task<never>) => t.finally(() => {})],
  ])('%s counts as observing its failure: close() does not report it again', async (_, observe) => {
    const group = new TaskGroup()
    const boom = new Error('observed')
    const observed = observe(failing(group, boom)).then(
      () => 'fulfilled',
      (e: unknown) => e,
    )
    await expect(group.close()).resolves.toBeUndefined()
    const seen = await observed
    expect(seen instanceof AggregateError ? seen.errors[0] : seen).toBe(boom)
  })

  it('the group waiting for a task is not observing it: an unobserved failure is still reported', async () => {
    const group = new TaskGroup()
    const boom = new Error('nobody looked')
    const task = failing(group, boom)
    // `group.start()` waits for its task without observing it; so does the group's own bookkeeping.
    const started = group.start(async (_signal, ready) => ready(1))
    expect(await started).toBe(1)
    const error = await rejectionOf(group.close())
    expect(error).toBeInstanceOf(TaskGroupError)
    expect((error as TaskGroupError).errors).toEqual([boom])
    expect(task.status).toBe('rejected')
  })

  it('cannot be made by its inherited promise statics either', () => {
    const TaskClass = Task as unknown as PromiseConstructor
    expect(() => TaskClass.resolve(1)).toThrow(TypeError)
    expect(() => TaskClass.all([])).toThrow(TypeError)
  })
})
