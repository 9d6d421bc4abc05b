// Shared test helpers for @taskscope/core: deferreds, flushing, unhandled-rejection checks.
import { setImmediate as immediate } from 'node:timers/promises'
import { afterEach } from 'vitest'
import { Threadpool, type ThreadpoolOptions } from '@taskscope/core'

export {
  closeServer,
  connect,
  type Deferred,
  deferred,
  listenOnLoopback,
  type LogEntry,
  memoryLogger,
  untilAborted,
} from '../../../test-support/index.ts'

/** Lets every pending microtask and one macrotask turn run. */
export async function flush(turns = 2): Promise<void> {
  for (let i = 0; i < turns; i++) await immediate()
}

/**
 * Collects unhandled rejections while `fn` runs and for a few turns after it; returns them.
 * Vitest reports unhandled rejections itself, but collecting them lets a test assert "none".
 */
export async function collectUnhandled(fn: () => Promise<void> | void): Promise<unknown[]> {
  const seen: unknown[] = []
  const onUnhandled = (reason: unknown): void => {
    seen.push(reason)
  }
  process.on('unhandledRejection', onUnhandled)
  try {
    await fn()
    await flush(3)
  } finally {
    process.off('unhandledRejection', onUnhandled)
  }
  return seen
}

/** The rejection of a promise (fails the test if it fulfils). */
export async function rejectionOf(promise: PromiseLike<unknown>): Promise<any> {
  try {
    await promise
  } catch (error) {
    return error
  }
  throw new Error('Expected a rejection, but the promise fulfilled')
}

/** Resolves on the next `process.nextTick` turn (after the current synchronous code). */
export function nextTick(): Promise<void> {
  return new Promise((resolve) => process.nextTick(resolve))
}

/**
 * Where a promise (or PromiseLike) stands once pending microtasks and one macrotask turn have run:
 * `'pending'`, `'fulfilled'` or `'rejected'`. Attaches a handler, so it counts as observing a task.
 */
export async function promiseState(promise: PromiseLike<unknown>): Promise<'pending' | 'fulfilled' | 'rejected'> {
  let state: 'pending' | 'fulfilled' | 'rejected' = 'pending'
  Promise.resolve(promise).then(
    () => (state = 'fulfilled'),
    () => (state = 'rejected'),
  )
  await flush(1)
  return state
}

/**
 * A factory of one-thread pools (unless told otherwise) that are all destroyed after each test.
 * Call it at the top of a test file.
 */
export function poolsForEachTest(): (options?: ThreadpoolOptions) => Threadpool {
  const pools: Threadpool[] = []
  afterEach(async () => {
    await Promise.all(pools.splice(0).map((p) => p.destroy()))
  })
  return (options) => {
    const created = new Threadpool({ maxThreads: 1, ...options })
    pools.push(created)
    return created
  }
}
