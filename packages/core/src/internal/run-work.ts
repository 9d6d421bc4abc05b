// How Task and BackgroundTask run their work and read its outcome: one place for both.
import { CancelledError } from '../errors.js'
import { toCancelledError } from './cancel.js'
import { isPromiseLike } from './validation.js'

/** A function called with an AbortSignal, or a promise already running. */
export type Work<T> = ((signal: AbortSignal) => T | PromiseLike<T>) | PromiseLike<T>

/**
 * Calls `work(signal)` (a synchronous throw is a rejection, and so is a result whose `then`
 * cannot be read) or adopts the bare promise, and reports
 * the outcome to exactly one of the two callbacks. When the work is asynchronous, returns the
 * promise of `.then(fulfilled, rejected)` (it settles as the callbacks return or throw); undefined
 * when a callback was called at once. Whatever a callback throws is the caller's to handle: it
 * rejects that promise.
 */
export function runWork<T>(
  work: Work<T>,
  signal: AbortSignal | undefined,
  fulfilled: (value: unknown) => unknown,
  rejected: (error: unknown) => unknown,
): Promise<unknown> | undefined {
  let result: unknown = work
  let then: unknown
  try {
    if (typeof work === 'function') result = work(signal!)
    // Read once, as promise resolution does: a `then` that cannot be read (a revoked Proxy, a
    // throwing getter or `get` trap) rejects the work with that error, like `Promise.resolve` would.
    then = thenOf(result)
    if (then === nativeThen) return nativeThen.call(result, fulfilled, rejected)
  } catch (error) {
    rejected(error)
    return undefined
  }
  if (typeof then !== 'function') {
    fulfilled(result)
    return undefined
  }
  // Another thenable: called as promise resolution calls it (whatever it does twice, late or by
  // throwing settles nothing twice), with the `then` read above, not read again.
  return new Promise((resolve, reject) => {
    queueMicrotask(() => {
      try {
        Reflect.apply(then as (...args: unknown[]) => unknown, result, [resolve, reject])
      } catch (error) {
        reject(error)
      }
    })
  }).then(fulfilled, rejected)
}

const nativeThen = Promise.prototype.then

/** The `then` of an object or function (may throw: a getter, a Proxy trap), else undefined. */
function thenOf(value: unknown): unknown {
  return (typeof value === 'object' || typeof value === 'function') && value !== null ? (value as { then?: unknown }).then : undefined
}

/** The CancelledError a cancelled task rejects with (`message` is called only when a new one must be made). */
export function cancellationOf(error: unknown, cancelReason: CancelledError | undefined, message: () => string): CancelledError {
  if (error instanceof CancelledError) return error
  return cancelReason ?? toCancelledError(error, message())
}

/** Checks that `work` is a function or a promise-like (false when its `then` cannot even be read). */
export function isWork(work: unknown): work is Work<unknown> {
  if (typeof work === 'function') return true
  try {
    return isPromiseLike(work)
  } catch {
    return false
  }
}
