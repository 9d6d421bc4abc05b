// How Task and BackgroundTask run their work and read its outcome: one place for both.
import { CancelledError } from '../errors.js'
import { toCancelledError } from './cancel.js'
import { isPromiseLike } from './validation.js'

/** A function called with an AbortSignal, or a promise already running. */
export type Work<T> = ((signal: AbortSignal) => T | PromiseLike<T>) | PromiseLike<T>

/**
 * Calls `work(signal)` (a synchronous throw is a rejection) or adopts the bare promise, and reports
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
  if (typeof work === 'function') {
    try {
      result = work(signal!)
    } catch (error) {
      rejected(error)
      return undefined
    }
  }
  if (isPromiseLike(result)) return (result instanceof Promise ? result : Promise.resolve(result)).then(fulfilled, rejected)
  fulfilled(result)
  return undefined
}

/** The CancelledError a cancelled task rejects with (`message` is called only when a new one must be made). */
export function cancellationOf(error: unknown, cancelReason: CancelledError | undefined, message: () => string): CancelledError {
  if (error instanceof CancelledError) return error
  return cancelReason ?? toCancelledError(error, message())
}

/** Checks that `work` is a function or a promise-like. */
export function isWork(work: unknown): work is Work<unknown> {
  return typeof work === 'function' || isPromiseLike(work)
}
