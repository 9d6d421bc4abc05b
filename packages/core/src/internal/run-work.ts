// How Task and BackgroundTask run their work and read its outcome: one place for both.
import { CancelledError } from '../errors.js'
import { toCancelledError } from './cancel.js'
import { isPromiseLike } from './validation.js'

/** A function called with an AbortSignal, or a promise already running. */
export type Work<T> = ((signal: AbortSignal) => T | PromiseLike<T>) | PromiseLike<T>

/**
 * Calls `work(signal)` (a synchronous throw is a rejection) or adopts the bare promise, and reports
 * the outcome to exactly one of the two callbacks. The callbacks handle every rejection, so no
 * outcome of the work can become an unhandled rejection.
 */
export function runWork<T>(
  work: Work<T>,
  signal: AbortSignal | undefined,
  fulfilled: (value: unknown) => void,
  rejected: (error: unknown) => void,
): void {
  let result: unknown = work
  if (typeof work === 'function') {
    try {
      result = work(signal!)
    } catch (error) {
      return rejected(error)
    }
  }
  if (isPromiseLike(result)) {
    ;(result instanceof Promise ? result : Promise.resolve(result)).then(fulfilled, rejected)
  } else {
    fulfilled(result)
  }
}

/** The CancelledError a cancelled task rejects with. */
export function cancellationOf(error: unknown, cancelReason: CancelledError | undefined, message: string): CancelledError {
  if (error instanceof CancelledError) return error
  return cancelReason ?? toCancelledError(error, message)
}

/** Checks that `work` is a function or a promise-like. */
export function isWork(work: unknown): work is Work<unknown> {
  return typeof work === 'function' || isPromiseLike(work)
}
