// Waiting on the event loop, on promises and on events, without sleeps.
import type { EventEmitter } from 'node:events'
import { setImmediate as immediate } from 'node:timers/promises'

/** Lets every pending microtask and `turns` macrotask turns run. */
export async function flush(turns = 2): Promise<void> {
  for (let i = 0; i < turns; i++) await immediate()
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

/** The rejection of a promise (fails the test if it fulfils). */
export async function rejectionOf(promise: PromiseLike<unknown>): Promise<any> {
  try {
    await promise
  } catch (error) {
    return error
  }
  throw new Error('Expected a rejection, but the promise fulfilled')
}

/** Resolves after `emitter` emitted `event` `count` times (counting from now). */
export function events(emitter: EventEmitter, event: string, count: number): Promise<void> {
  return new Promise((resolve) => {
    let seen = 0
    const listener = (): void => {
      if (++seen < count) return
      emitter.off(event, listener)
      resolve()
    }
    emitter.on(event, listener)
  })
}
