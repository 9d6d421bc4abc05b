// Turning abort reasons into CancelledErrors, and signal plumbing shared by every primitive.
import { CancelledError, TimeoutError } from '../errors.js'

/**
 * The CancelledError for a reason: a CancelledError is kept as it is (so subclasses such as
 * ClientDisconnectedError survive); anything else becomes the `cause` of a new one. A DOMException
 * `TimeoutError` (from `AbortSignal.timeout`) becomes our TimeoutError.
 */
export function toCancelledError(reason: unknown, message = 'The operation was cancelled'): CancelledError {
  if (reason === undefined) return new CancelledError(message)
  try {
    if (reason instanceof CancelledError) return reason
    if ((reason as { name?: unknown } | null)?.name === 'TimeoutError') {
      return new TimeoutError(String((reason as Error).message || message), { cause: reason })
    }
  } catch {
    // A reason that cannot be inspected (a revoked Proxy, a throwing getter) is still a cause.
  }
  return new CancelledError(message, { cause: reason })
}

// The cancellations a group makes because one of its tasks failed (see `failureCancellation`).
const failureCancellations = new WeakSet<CancelledError>()

/**
 * The CancelledError a group cancels its tasks with when one of them failed: `cause` is the
 * failure. Recorded, so that whoever sees it escape (an HTTP adapter) can answer for the failure.
 */
export function failureCancellation(message: string, failure: unknown): CancelledError {
  const cancellation = new CancelledError(message, { cause: failure })
  failureCancellations.add(cancellation)
  return cancellation
}

/** True for a cancellation made by {@link failureCancellation}: its `cause` is the failure. */
export function isFailureCancellation(error: unknown): error is CancelledError {
  return typeof error === 'object' && error !== null && failureCancellations.has(error as CancelledError)
}

export const noop = (): void => {}

/**
 * Builds an error without capturing a stack trace. For reasons created on a hot path whose stack
 * would only show the library's own lifecycle callback (a request finishing, a client leaving):
 * capturing it costs more than the rest of the request's bookkeeping.
 */
export function stackless<E>(make: () => E): E {
  const limit = Error.stackTraceLimit
  Error.stackTraceLimit = 0
  try {
    return make()
  } finally {
    Error.stackTraceLimit = limit
  }
}
