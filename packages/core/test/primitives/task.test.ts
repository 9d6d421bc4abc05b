import { CancelledError, type Task, TaskGroup } from '@taskscope/core'
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
