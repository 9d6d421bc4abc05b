// A task that leaves a stray unhandled rejection or a stray throw behind in its thread never fails
// another task: only its own answer says what went wrong, and its thread is replaced after that answer.
// Real worker threads, through the built package.

import { WorkerCrashedError } from '@taskscope/core'
import { poolsForEachTest, rejectionOf } from '@taskscope/test-support'
import { describe, expect, it, onTestFinished, vi } from 'vitest'

const pool = poolsForEachTest()

const threadOf = (): number => process.getBuiltinModule('node:worker_threads').threadId

/** Returns normally, leaving a rejected promise nobody handles. */
function leaveRejection(): number {
  Promise.reject(new RangeError('stray rejection'))
  return process.getBuiltinModule('node:worker_threads').threadId
}

/**
 * Returns normally, leaving a timer that throws once `flag[1]` is set (by a later task): the throw
 * surfaces only after this task has answered. Before throwing, the timer sets `flag[0]`.
 */
function leaveLateThrow(flag: Int32Array): number {
  const timer = setInterval(() => {
    if (Atomics.load(flag, 1) === 0) return
    clearInterval(timer)
    Atomics.store(flag, 0, 1)
    Atomics.notify(flag, 0)
    throw new TypeError('late stray throw')
  }, 1)
  return process.getBuiltinModule('node:worker_threads').threadId
}

/** Sets `flag[1]`, waits until the earlier task's timer has thrown, lets the throw be handled, returns its thread. */
async function awaitLateThrow(flag: Int32Array): Promise<number> {
  Atomics.store(flag, 1, 1)
  const waitAsync = (Atomics as unknown as { waitAsync(a: Int32Array, i: number, v: number): { async: boolean; value: unknown } }).waitAsync
  const wait = waitAsync(flag, 0, 0)
  if (wait.async) await wait.value
  await new Promise((resolve) => setImmediate(resolve))
  return process.getBuiltinModule('node:worker_threads').threadId
}

/** Leaves a rejected promise nobody handles, then waits a turn (the rejection surfaces meanwhile). */
async function leaveRejectionAndWait(): Promise<number> {
  Promise.reject(new RangeError('stray rejection'))
  await new Promise((resolve) => setImmediate(resolve))
  return 1
}

/** Waits a turn of its thread's event loop (as any task with real I/O does), then returns its thread. */
async function yieldThenThread(): Promise<number> {
  await new Promise((resolve) => setImmediate(resolve))
  return process.getBuiltinModule('node:worker_threads').threadId
}

/**
 * The process warnings of one type emitted during the current test, captured: they are expected
 * here, so they are asserted on instead of printed. Warnings of other types go through as usual.
 */
function warningsOf(type: string): Array<Error & { code?: string; detail?: string }> {
  const seen: Array<Error & { code?: string; detail?: string }> = []
  const emit = process.emitWarning
  const spy = vi.spyOn(process, 'emitWarning').mockImplementation((...args: unknown[]): void => {
    const [warning, options] = args
    if (typeof options === 'object' && options !== null && (options as { type?: unknown }).type === type) {
      const { code, detail } = options as { code?: string; detail?: string }
      seen.push(Object.assign(new Error(String(warning)), { name: type, code, detail }))
      return
    }
    Reflect.apply(emit, process, args)
  })
  onTestFinished(() => {
    spy.mockRestore()
  })
  return seen
}

describe('P9: stray rejections and throws fail no other task', () => {
  it('a task that leaves an unhandled rejection behind answers; the next task is unaffected; a warning names the task; the thread is replaced (20 of 20)', async () => {
    const p = pool()
    const warnings = warningsOf('ThreadpoolStrayWarning')
    for (let i = 0; i < 20; i++) {
      const culprit = p.run(leaveRejection, [])
      const next = p.run(yieldThenThread, [])
      const after = p.run(threadOf, [])
      const culpritThread = await culprit // it answered before its stray surfaced
      expect(await next).toBe(culpritThread) // the stray surfaced while this one waited, and failed nobody
      expect(await after).not.toBe(culpritThread) // then the thread was replaced
    }
    expect(p.stats()).toMatchObject({ failed: 0, completed: 60 })
    expect(warnings).toHaveLength(20)
    expect(warnings[0]!.message).toMatch(/task "leaveRejection" left an unhandled rejection behind/)
    expect(warnings[0]!.detail).toMatch(/RangeError: stray rejection/)
  })

  it('a stray rejection that surfaces before its task answers fails that task alone, with WorkerCrashedError naming it', async () => {
    const p = pool()
    const culprit = p.run(leaveRejectionAndWait, [])
    const next = p.run(threadOf, [])
    const error = await rejectionOf(culprit)
    expect(error).toBeInstanceOf(WorkerCrashedError)
    expect(error.message).toMatch(
      /task "leaveRejectionAndWait" left an unhandled rejection behind in its worker thread, which was replaced/,
    )
    expect(error.cause).toBeInstanceOf(RangeError)
    expect(error.cause.message).toBe('stray rejection')
    expect(typeof (await next)).toBe('number')
    expect(p.stats()).toMatchObject({ failed: 1, completed: 1 })
  })

  it('a throw that surfaces after its task answered fails nobody; the thread is replaced after the answer of the task it surfaced in', async () => {
    const p = pool()
    const warnings = warningsOf('ThreadpoolStrayWarning')
    const flag = new Int32Array(new SharedArrayBuffer(8))
    const culpritThread = await p.run(leaveLateThrow, [flag])
    const bystanderThread = await p.run(awaitLateThrow, [flag])
    expect(bystanderThread).toBe(culpritThread) // it ran on the same thread, and answered normally
    const after = await p.run(threadOf, [])
    expect(after).not.toBe(culpritThread) // that thread was replaced
    expect(p.stats()).toMatchObject({ failed: 0, completed: 3 })
    expect(warnings.map((w) => w.message)).toEqual([expect.stringMatching(/task "leaveLateThrow" left an uncaught exception behind/)])
  })

  it('a task that fails and also leaves a stray rejection answers with its own error', async () => {
    const p = pool()
    const warnings = warningsOf('ThreadpoolStrayWarning')
    const error = await rejectionOf(
      p.run(function failTwice() {
        Promise.reject(new Error('stray'))
        throw new SyntaxError('its own')
      }, []),
    )
    expect(error).toBeInstanceOf(SyntaxError)
    expect(error.message).toBe('its own')
    expect(await p.run((x: number) => x + 1, [1])).toBe(2)
    // The stray surfaced after the answer: it comes back with the thread's next reply, as a warning.
    expect(warnings.map((w) => w.message)).toEqual([expect.stringMatching(/task "failTwice" left an unhandled rejection behind/)])
  })

  it('a thread without strays is kept from task to task', async () => {
    const p = pool()
    const first = await p.run(threadOf, [])
    for (let i = 0; i < 5; i++) expect(await p.run(threadOf, [])).toBe(first)
  })
})
