// P8: cooperative cancellation. With `grace`, a cancelled or timed-out running task first sees its
// in-thread signal (`this.signal`) abort; if it stops within `grace` its thread is kept, else the
// thread is terminated. Real worker threads throughout.

import { CancelledError, type ThreadpoolTaskContext, TimeoutError, workerTask } from '@taskscope/core'
import { poolsForEachTest, rejectionOf } from '@taskscope/test-support'
import { describe, expect, it } from 'vitest'
import { newFlag, spin, startedOn } from './started-flag.ts'

const pool = poolsForEachTest()
const tasks = new URL('./fixtures/cooperative-tasks.mjs', import.meta.url)
const untilAborted = workerTask<(flag: Int32Array) => Promise<never>>(tasks, 'untilAborted')
const finishesWhenAborted = workerTask<(flag: Int32Array) => Promise<string>>(tasks, 'finishesWhenAborted')
const lastSeen = workerTask<() => Record<string, unknown>>(tasks, 'lastSeen')
const whichThread = workerTask<() => number>(tasks, 'whichThread')
const answersOnRequest = workerTask<(flag: Int32Array) => Promise<string>>(tasks, 'answersOnRequest')

describe('P8: cooperative cancellation (grace)', () => {
  it('a cancelled task that stops within grace rejects with the CancelledError and keeps its thread', async () => {
    const p = pool()
    const flag = newFlag()
    const controller = new AbortController()
    const running = p.run(untilAborted, [flag], { signal: controller.signal, grace: 10_000 })
    const thread = await startedOn(flag)
    const reason = new Error('client went away')
    controller.abort(reason)
    const error = await rejectionOf(running)
    expect(error).toBeInstanceOf(CancelledError)
    expect(error.cause).toBe(reason)
    expect(await p.run(whichThread, [])).toBe(thread)
    expect(await p.run(lastSeen, [])).toEqual({
      threadId: thread,
      name: 'CancelledError',
      message: error.message,
      code: 'ERR_CANCELLED',
      cancelled: true,
      timeout: false,
      cause: 'client went away',
    })
    expect(p.stats()).toMatchObject({ cancelled: 1, completed: 2, failed: 0, running: 0, queued: 0, threads: 1 })
  })

  it('a timeout with grace aborts the in-thread signal with a TimeoutError; the thread is kept', async () => {
    const p = pool()
    await p.run(whichThread, []) // the thread is up and listening
    const flag = newFlag()
    const running = p.run(untilAborted, [flag], { timeout: 50, grace: 10_000 })
    const thread = await startedOn(flag)
    const error = await rejectionOf(running)
    expect(error).toBeInstanceOf(TimeoutError)
    expect(await p.run(lastSeen, [])).toMatchObject({ threadId: thread, name: 'TimeoutError', timeout: true, message: error.message })
  })

  it('a task cancelled while its new thread was still starting sees its signal aborted when it starts', async () => {
    const p = pool({ minThreads: 0 })
    const controller = new AbortController()
    const flag = newFlag()
    const running = p.run(untilAborted, [flag], { signal: controller.signal, grace: 10_000 })
    await Promise.resolve()
    expect(p.stats()).toMatchObject({ running: 1 }) // handed to a thread that is still starting
    controller.abort()
    expect(await rejectionOf(running)).toBeInstanceOf(CancelledError)
    const thread = Atomics.load(flag, 1)
    expect(await p.run(lastSeen, [])).toMatchObject({ threadId: thread, name: 'CancelledError', cancelled: true })
  })

  it('a task that answers with a value once aborted still rejects with the CancelledError; the thread is kept', async () => {
    const p = pool()
    const flag = newFlag()
    const controller = new AbortController()
    const running = p.run(finishesWhenAborted, [flag], { signal: controller.signal, grace: 10_000 })
    const thread = await startedOn(flag)
    controller.abort()
    expect(await rejectionOf(running)).toBeInstanceOf(CancelledError)
    expect(await p.run(whichThread, [])).toBe(thread)
  })

  it('a shipped function declaration reads this.signal too', async () => {
    const p = pool()
    const flag = newFlag()
    async function cooperative(this: ThreadpoolTaskContext, flag: Int32Array): Promise<string> {
      Atomics.store(flag, 1, process.getBuiltinModule('node:worker_threads').threadId)
      Atomics.store(flag, 0, 1)
      Atomics.notify(flag, 0)
      while (!this.signal.aborted) await new Promise((resolve) => setTimeout(resolve, 1))
      return `stopped: ${(this.signal.reason as Error).name}`
    }
    const controller = new AbortController()
    const running = p.run(cooperative, [flag], { signal: controller.signal, grace: 10_000 })
    const thread = await startedOn(flag)
    controller.abort()
    expect(await rejectionOf(running)).toBeInstanceOf(CancelledError)
    expect(await p.run(() => process.getBuiltinModule('node:worker_threads').threadId, [])).toBe(thread)
  })

  it('a task that does not stop within grace has its thread terminated and replaced', async () => {
    const p = pool()
    const flag = newFlag()
    const controller = new AbortController()
    const running = p.run(spin, [flag, 10_000], { signal: controller.signal, grace: 50 })
    const thread = await startedOn(flag)
    controller.abort()
    expect(await rejectionOf(running)).toBeInstanceOf(CancelledError) // long before the 10 s spin ends
    expect(await p.run(whichThread, [])).not.toBe(thread)
    expect(p.stats()).toMatchObject({ cancelled: 1, completed: 1, running: 0 })
  })

  it('a task that answers just as its grace runs out takes no other task down with its terminated thread', async () => {
    const p = pool({ minThreads: 1, maxThreads: 1 })
    await p.run(whichThread, []) // the thread is up and listening
    const flag = newFlag()
    const controller = new AbortController()
    const running = p.run(answersOnRequest, [flag], { signal: controller.signal, grace: 0 })
    await startedOn(flag)
    controller.abort()
    await new Promise((resolve) => setImmediate(resolve)) // the event loop's next phase is now its timers, then its messages
    // The task answers now, while this thread is held until its answer is (almost surely) on its
    // way and the grace timer is due: timers run before messages are read, so its thread is
    // terminated with the answer unread, and the next task is handed out before that answer arrives.
    Atomics.store(flag, 0, 2)
    Atomics.notify(flag, 0)
    expect(Atomics.wait(flag, 0, 2, 10_000)).not.toBe('timed-out')
    Atomics.wait(flag, 0, 3, 20) // not a synchronization: should the answer come later, the test passes without testing the race
    expect(await rejectionOf(running)).toBeInstanceOf(CancelledError)
    expect(await p.run(whichThread, [])).toBeTypeOf('number') // not a WorkerCrashedError
    expect(p.stats()).toMatchObject({ cancelled: 1, completed: 2, failed: 0 })
  })

  it('without grace the in-thread signal never aborts: the thread is terminated at once', async () => {
    const p = pool()
    const flag = newFlag()
    const controller = new AbortController()
    const running = p.run(untilAborted, [flag], { signal: controller.signal })
    const thread = await startedOn(flag)
    controller.abort()
    expect(await rejectionOf(running)).toBeInstanceOf(CancelledError)
    expect(await p.run(whichThread, [])).not.toBe(thread)
    expect(await p.run(lastSeen, [])).toBeUndefined()
  })

  it('a queued task with grace is removed at once when cancelled; counts stay exact', async () => {
    const p = pool()
    const flag = newFlag()
    const first = new AbortController()
    const running = p.run(untilAborted, [flag], { signal: first.signal, grace: 10_000 })
    const thread = await startedOn(flag)
    const second = new AbortController()
    const queued = p.run(untilAborted, [newFlag()], { signal: second.signal, grace: 10_000 })
    expect(p.stats()).toMatchObject({ running: 1, queued: 1 })
    second.abort()
    expect(await rejectionOf(queued)).toBeInstanceOf(CancelledError)
    expect(p.stats()).toMatchObject({ running: 1, queued: 0, cancelled: 1 })
    first.abort()
    expect(await rejectionOf(running)).toBeInstanceOf(CancelledError)
    expect(await p.run(whichThread, [])).toBe(thread)
    expect(p.stats()).toMatchObject({ running: 0, queued: 0, cancelled: 2, completed: 1, failed: 0 })
  })

  it('destroy() during grace stops the task with ShutdownError', async () => {
    const p = pool()
    const flag = newFlag()
    const controller = new AbortController()
    const running = p.run(spin, [flag, 10_000], { signal: controller.signal, grace: 60_000 })
    await startedOn(flag)
    controller.abort()
    const stopped = rejectionOf(running)
    await p.destroy()
    expect(await stopped).toMatchObject({ name: 'ShutdownError' })
  })

  it('validates grace, naming the option and the value', async () => {
    const p = pool({ minThreads: 0 })
    const ok = (x: number): number => x
    const negative = await rejectionOf(p.run(ok, [1], { grace: -1 }))
    expect(negative).toMatchObject({ name: 'RangeError', code: 'ERR_OUT_OF_RANGE' })
    expect(negative.message).toMatch(/"grace".*or Infinity.*Received -1/)
    const text = await rejectionOf(p.run(ok, [1], { grace: '100' as never }))
    expect(text).toMatchObject({ name: 'TypeError', code: 'ERR_INVALID_ARG_TYPE' })
    expect(text.message).toMatch(/"grace".*Received type string \('100'\)|"grace".*'100'/)
    expect(await rejectionOf(p.run(ok, [1], { grace: Number.NaN }))).toMatchObject({ code: 'ERR_INVALID_ARG_TYPE' })
    expect(await p.run(ok, [1], { grace: Infinity })).toBe(1)
    expect(await p.run(ok, [2], { grace: 0 })).toBe(2)
  })
})
