// currentTaskGroup(): the group whose task runs the current code, anywhere in its async call tree.
import { AsyncLocalStorage } from 'node:async_hooks'
import { setImmediate as immediate } from 'node:timers/promises'
import { BackgroundTasks, createBackgroundTask, currentTaskGroup, TaskGroup } from '@taskscope/core'
import { deferred } from '@taskscope/test-support'
import { describe, expect, it } from 'vitest'

/** A service function deep in the call tree: it never sees the group. */
async function deepService(): Promise<TaskGroup | undefined> {
  await immediate()
  await Promise.resolve()
  return currentTaskGroup()
}

describe('currentTaskGroup()', () => {
  it('is undefined outside any task', () => {
    expect(currentTaskGroup()).toBeUndefined()
  })

  it("is the task's group, synchronously and after awaits, in nested calls and callbacks", async () => {
    await using group = new TaskGroup()
    const seen = await group.createTask(async () => {
      const sync = currentTaskGroup()
      const deep = await deepService()
      const inTimer = await new Promise((resolve) => setTimeout(() => resolve(currentTaskGroup()), 0))
      return [sync, deep, inTimer]
    })
    expect(seen).toEqual([group, group, group])
  })

  it('is the inner group in a task of a group made inside a task, and the outer one again afterwards', async () => {
    await using outer = new TaskGroup()
    const seen = await outer.createTask(async () => {
      await using inner = new TaskGroup()
      const inInner = await inner.createTask(deepService)
      return [inInner, currentTaskGroup()]
    })
    expect(seen[0]).not.toBe(outer)
    expect(seen[1]).toBe(outer)
  })

  it('is the group of a queued task when it starts later, and of start() and child() tasks', async () => {
    await using group = new TaskGroup({ limit: 1 })
    const gate = deferred()
    group.createTask(() => gate.promise)
    const queued = group.createTask(deepService)
    gate.resolve()
    expect(await queued).toBe(group)
    const started = await group.start<TaskGroup | undefined>(async (_signal, ready) => ready(await deepService()))
    expect(started).toBe(group)
    const child = group.child()
    expect(await child.createTask(deepService)).toBe(child)
  })

  it('in a TaskGroup.run body (not a task) is the enclosing group, in its tasks the new one', async () => {
    expect(await TaskGroup.run(() => currentTaskGroup())).toBeUndefined()
    await using outer = new TaskGroup()
    const [body, task, inner] = await outer.createTask(() =>
      TaskGroup.run(async (group) => [currentTaskGroup(), await group.createTask(deepService), group] as const),
    )
    expect(body).toBe(outer)
    expect(task).toBe(inner)
  })

  it("is undefined in background work started from a task, which keeps the caller's other AsyncLocalStorage stores", async () => {
    const als = new AsyncLocalStorage<string>()
    const registry = new BackgroundTasks()
    await using group = new TaskGroup()
    const [fromRegistry, scoped] = await group.createTask(() =>
      als.run('request-42', async () => {
        const job = registry.add(async () => [await deepService(), als.getStore()])
        await using scoped = createBackgroundTask(async () => deepService())
        return [await job, await scoped]
      }),
    )
    expect(fromRegistry).toEqual([undefined, 'request-42'])
    expect(scoped).toBeUndefined()
    await registry.shutdown()
  })

  it('keeps G9: work still runs in the AsyncLocalStorage context of the createTask caller', async () => {
    const als = new AsyncLocalStorage<string>()
    await using group = new TaskGroup()
    const seen = await als.run('caller', () => group.createTask(async () => [await deepService(), als.getStore()]))
    expect(seen).toEqual([group, 'caller'])
  })
})
