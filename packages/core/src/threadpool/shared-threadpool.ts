// The process-wide Threadpool: `getThreadpool()` and `runInThreadpool(fn, ...args)`, Nexios' `run_in_threadpool`.
import { Threadpool } from './threadpool.js'
import type { PoolFunction, WorkerTask } from './worker-task.js'

let shared: Threadpool | undefined

/**
 * The shared default pool (default options), created on first use. Its idle threads never keep the
 * process alive, so a script that uses it exits by itself. If it was closed or destroyed, the next
 * call creates a fresh one.
 *
 * @example
 * ```ts
 * app.addHook('onClose', () => getThreadpool().close({ timeout: 5_000 }))
 * ```
 */
export function getThreadpool(): Threadpool {
  if (shared === undefined || shared.closed) shared = new Threadpool()
  return shared
}

/** @internal The shared pool if it has been started and is still open, without starting it. */
export function startedSharedThreadpool(): Threadpool | undefined {
  return shared !== undefined && !shared.closed ? shared : undefined
}

/**
 * Runs `fn(...args)` on the shared pool ({@link getThreadpool}): `getThreadpool().run(fn, args)`.
 * `fn` must be self-contained (see {@link Threadpool.run}); a {@link workerTask} handle works too.
 * Never throws: every error is a rejection, as with `Threadpool.run`.
 *
 * @example
 * ```ts
 * const digest = await runInThreadpool((text: string) => text.split('').reverse().join(''), 'abc') // 'cba'
 * ```
 */
export function runInThreadpool<F extends PoolFunction>(fn: F | WorkerTask<F>, ...args: Parameters<F>): Promise<Awaited<ReturnType<F>>> {
  try {
    return getThreadpool().run(fn, args)
  } catch (error) {
    return Promise.reject(error)
  }
}
