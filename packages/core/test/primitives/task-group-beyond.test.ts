// Beyond asyncio: supervisor groups (failFast: false), the start() handshake, deadlines and child groups.

import { CancelledError, ClosedError, TaskGroup, TaskGroupError, TimeoutError } from '@taskscope/core'
import { collectUnhandled, deferred, flush, promiseState, rejectionOf, untilAborted } from '@taskscope/test-support'
import { describe, expect, it } from 'vitest'

const boom =
  (message = 'boom') =>
  async (): Promise<never> => {
    throw new Error(message)
  }

describe('failFast: false (a supervisor)', () => {
  it('a failing task cancels nothing; the others run on and finish', async () => {
    const group = new TaskGroup({ failFast: false })
    const gate = deferred<string>()
    const other = group.createTask(async (signal) => {
      const value = await gate.promise
      return { value, aborted: signal.aborted }
    })
    group.createTask(boom('first'), { name: 'enrich' })
    await flush()
    expect(group.cancelled).toBe(false)
    expect(group.signal.aborted).toBe(false)
    gate.resolve('done')
    await expect(other).resolves.toEqual({ value: 'done', aborted: false })
    const error = await rejectionOf(group.close())
    expect(error).toBeInstanceOf(TaskGroupError)
    expect(error.errors.map((e: Error) => e.message)).toEqual(['first'])
  })

  it('still starts queued tasks after a failure, and close() lists only unobserved failures', async () => {
    const group = new TaskGroup({ failFast: false, limit: 1 })
    const observed = group.createTask(boom('observed'))
    const later = group.createTask(async () => 'later ran')
    group.createTask(boom('unobserved'))
    await expect(observed).rejects.toThrow('observed')
    await expect(later).resolves.toBe('later ran')
    const error = await rejectionOf(group.close())
    expect(error.errors.map((e: Error) => e.message)).toEqual(['unobserved'])
  })

  it('defaults to failFast: true, and rejects a non-boolean', async () => {
    const group = new TaskGroup()
    const sibling = group.createTask(untilAborted)
    group.createTask(boom())
    await expect(sibling).rejects.toBeInstanceOf(CancelledError)
    await expect(group.close()).rejects.toBeInstanceOf(TaskGroupError)
    expect(() => new TaskGroup({ failFast: 'no' as never })).toThrow(
      expect.objectContaining({ code: 'ERR_INVALID_ARG_TYPE', message: expect.stringMatching(/"failFast".*Received 'no'/) }),
    )
  })
})

describe('group.start(work)', () => {
  it('resolves with the value given to ready() while the task keeps running in the group', async () => {
    const group = new TaskGroup()
    const stop = deferred()
    let finished = false
    const port = await group.start<number>(async (signal, ready) => {
      ready(8080)
      await stop.promise
      finished = !signal.aborted
    })
    expect(port).toBe(8080)
    expect(group.size).toBe(1)
    stop.resolve()
    await group.close()
    expect(finished).toBe(true)
  })

  it('rejects with the error of work that throws before ready(), and the group is not failed', async () => {
    const group = new TaskGroup()
    const sibling = group.createTask(async () => 'sibling')
    const sync = await rejectionOf(
      group.start(() => {
        throw new Error('sync failure')
      }),
    )
    const late = await rejectionOf(
      group.start(async () => {
        await flush(1)
        throw new Error('async failure')
      }),
    )
    expect(sync.message).toBe('sync failure')
    expect(late.message).toBe('async failure')
    expect(group.cancelled).toBe(false)
    await expect(sibling).resolves.toBe('sibling')
    await expect(group.close()).resolves.toBeUndefined()
  })

  it('rejects with ERR_TASK_NOT_STARTED when the work returns without calling ready()', async () => {
    const group = new TaskGroup()
    const sync = await rejectionOf(group.start(function listen() {}))
    const async = await rejectionOf(group.start(async () => 'value, but never ready'))
    for (const error of [sync, async]) expect(error).toMatchObject({ code: 'ERR_TASK_NOT_STARTED' })
    expect(sync.message).toMatch(/"listen"/)
    await expect(group.close()).resolves.toBeUndefined()
  })

  it('a failure after ready() is a failure of the group', async () => {
    const group = new TaskGroup()
    const sibling = group.createTask(untilAborted)
    await group.start(async (_signal, ready) => {
      ready(undefined)
      await flush(1)
      throw new Error('after ready')
    })
    await expect(sibling).rejects.toBeInstanceOf(CancelledError)
    const error = await rejectionOf(group.close())
    expect(error.errors.map((e: Error) => e.message)).toEqual(['after ready'])
  })

  it('ignores ready() after the first call', async () => {
    const group = new TaskGroup()
    let second: unknown = 'not called'
    const value = await group.start<string>((_signal, ready) => {
      ready('first')
      second = ready('second')
    })
    expect(value).toBe('first')
    expect(second).toBeUndefined()
    await group.close()
  })

  it('rejects with the CancelledError when the group is cancelled before ready(), and queued past the limit', async () => {
    const group = new TaskGroup({ limit: 1 })
    const blocker = group.createTask(untilAborted)
    const queued = group.start((_signal, ready) => ready('never'))
    const running = group.start(async (signal) => untilAborted(signal))
    group.cancel()
    expect(await rejectionOf(queued)).toBeInstanceOf(CancelledError)
    expect(await rejectionOf(running)).toBeInstanceOf(CancelledError)
    await expect(blocker).rejects.toBeInstanceOf(CancelledError)
    await group.close()
  })

  it('rejects with ClosedError on a closed group, and a TypeError for a non-function', async () => {
    const group = new TaskGroup()
    await group.close()
    await expect(group.start((_s, ready) => ready(1))).rejects.toBeInstanceOf(ClosedError)
    const open = new TaskGroup()
    await expect(open.start('work' as never)).rejects.toMatchObject({ name: 'TypeError', code: 'ERR_INVALID_ARG_TYPE' })
    await open.close()
  })

  it('leaves no unhandled rejection when nobody awaits start() and the work fails late', async () => {
    const unhandled = await collectUnhandled(async () => {
      const group = new TaskGroup({ failFast: false })
      void group.start(async (_s, ready) => {
        ready(1)
        throw new Error('late')
      })
      await expect(group.close()).rejects.toBeInstanceOf(TaskGroupError)
    })
    expect(unhandled).toEqual([])
  })
})

describe('deadlines', () => {
  it('deadline is the epoch ms of the timeout; remaining() counts down, never below 0', async () => {
    const before = Date.now()
    const group = new TaskGroup({ timeout: 10_000 })
    expect(group.deadline).toBeGreaterThanOrEqual(before + 10_000)
    expect(group.deadline).toBeLessThanOrEqual(Date.now() + 10_000)
    expect(group.remaining()).toBeGreaterThan(0)
    expect(group.remaining()).toBeLessThanOrEqual(10_000)
    const done = new TaskGroup({ timeout: 0 })
    done.createTask(untilAborted)
    await expect(done.close()).rejects.toBeInstanceOf(TimeoutError)
    expect(done.remaining()).toBe(0)
    group.cancel()
    await group.close()
  })

  it('without a timeout: deadline undefined and remaining() Infinity (a plain signal parent gives none)', async () => {
    const controller = new AbortController()
    for (const group of [new TaskGroup(), new TaskGroup({ signal: controller.signal }), new TaskGroup({ timeout: Infinity })]) {
      expect(group.deadline).toBeUndefined()
      expect(group.remaining()).toBe(Infinity)
      await group.close()
    }
  })
})

describe('group.child()', () => {
  it("inherits the earlier deadline: the parent's, or its own", async () => {
    const parent = new TaskGroup({ timeout: 10_000 })
    const longer = parent.child({ timeout: 60_000 })
    const shorter = parent.child({ timeout: 1_000 })
    const none = parent.child()
    expect(longer.deadline).toBe(parent.deadline)
    expect(none.deadline).toBe(parent.deadline)
    expect(shorter.deadline).toBeLessThan(parent.deadline!)
    expect(new TaskGroup().child().deadline).toBeUndefined()
    parent.cancel()
    await parent.close()
  })

  it("is cancelled with its parent; a task of the child sees the parent's reason", async () => {
    const parent = new TaskGroup()
    const child = parent.child({ name: 'inner' })
    const seen = deferred<unknown>()
    child.createTask((signal) => untilAborted(signal, seen))
    parent.cancel('stop')
    expect(await seen.promise).toBeInstanceOf(CancelledError)
    expect(child.cancelled).toBe(true)
    await expect(parent.close()).resolves.toBeUndefined()
    expect(child.closed).toBe(true)
  })

  it("a failure in the child is the parent's: siblings in the parent are cancelled, close() lists it once", async () => {
    const parent = new TaskGroup()
    const sibling = parent.createTask(untilAborted, { name: 'sibling' })
    const child = parent.child({ name: 'inner' })
    const childSibling = child.createTask(untilAborted)
    child.createTask(boom('root cause'), { name: 'failing' })
    await expect(sibling).rejects.toBeInstanceOf(CancelledError)
    await expect(childSibling).rejects.toBeInstanceOf(CancelledError)
    const error = await rejectionOf(parent.close())
    expect(error).toBeInstanceOf(TaskGroupError)
    expect(error.errors.map((e: Error) => e.message)).toEqual(['root cause'])
  })

  it("the parent's close() closes the child and waits for its tasks", async () => {
    const parent = new TaskGroup()
    const child = parent.child()
    const gate = deferred()
    let cleanedUp = false
    child.createTask(async () => {
      await gate.promise
      cleanedUp = true
    })
    const closing = parent.close()
    expect(await promiseState(closing)).toBe('pending')
    gate.resolve()
    await closing
    expect(cleanedUp).toBe(true)
    expect(child.closed).toBe(true)
    expect(() => child.createTask(() => 1)).toThrow(ClosedError)
  })

  it("the child's own timeout cancels the child alone: not a failure of the parent", async () => {
    const parent = new TaskGroup()
    const child = parent.child({ timeout: 1 })
    const seen = deferred<unknown>()
    child.createTask((signal) => untilAborted(signal, seen))
    const sibling = parent.createTask(async (signal) => {
      await seen.promise
      await flush()
      return signal.aborted
    })
    expect(await seen.promise).toBeInstanceOf(TimeoutError)
    await expect(sibling).resolves.toBe(false)
    expect(parent.cancelled).toBe(false)
    await expect(parent.close()).resolves.toBeUndefined()
  })

  it('a supervisor child: its failure cancels neither its siblings nor the parent, and is reported by the parent', async () => {
    const parent = new TaskGroup()
    const child = parent.child({ failFast: false })
    const gate = deferred()
    const survivor = child.createTask(async () => {
      await gate.promise
      return 'ok'
    })
    child.createTask(boom('optional call failed'))
    await flush()
    expect(parent.cancelled).toBe(false)
    gate.resolve()
    await expect(survivor).resolves.toBe('ok')
    const error = await rejectionOf(parent.close())
    expect(error.errors.map((e: Error) => e.message)).toEqual(['optional call failed'])
  })

  it('closed by its user, its failures go to that user, not again to the parent', async () => {
    const parent = new TaskGroup({ failFast: false })
    const result = parent.createTask(async () => {
      await using child = parent.child()
      child.createTask(boom('handled'))
    })
    const error = await rejectionOf(result)
    expect(error).toBeInstanceOf(TaskGroupError)
    await expect(parent.close()).resolves.toBeUndefined()
  })

  it("takes no slot of the parent's limit; ClosedError on a closed parent; returned cancelled on a cancelled one", async () => {
    const parent = new TaskGroup({ limit: 1 })
    const blocker = deferred()
    parent.createTask(() => blocker.promise)
    const child = parent.child()
    await expect(child.createTask(async () => 'ran')).resolves.toBe('ran')
    blocker.resolve()
    await parent.close()
    expect(() => parent.child()).toThrow(ClosedError)
    const cancelled = new TaskGroup()
    cancelled.cancel()
    const late = cancelled.child()
    expect(late.cancelled).toBe(true)
    await cancelled.close()
  })

  it('rejects bad options with a coded error naming the option', () => {
    const group = new TaskGroup()
    expect(() => group.child({ timeout: -1 })).toThrow(expect.objectContaining({ code: 'ERR_OUT_OF_RANGE' }))
    expect(() => group.child('x' as never)).toThrow(expect.objectContaining({ code: 'ERR_INVALID_ARG_TYPE' }))
  })
})
