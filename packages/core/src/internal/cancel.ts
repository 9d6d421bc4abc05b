// Turning abort reasons into CancelledErrors, and signal plumbing shared by every primitive.
import { CancelledError, TimeoutError } from '../errors.js'

/**
 * The CancelledError for a reason: a CancelledError is kept as it is (so subclasses such as
 * ClientDisconnectedError survive); anything else becomes the `cause` of a new one. A DOMException
 * `TimeoutError` (from `AbortSignal.timeout`) becomes our TimeoutError.
 */
export function toCancelledError(reason: unknown, message = 'The operation was cancelled'): CancelledError {
  if (reason instanceof CancelledError) return reason
  if (reason === undefined) return new CancelledError(message)
  if ((reason as { name?: unknown } | null)?.name === 'TimeoutError') {
    return new TimeoutError((reason as Error).message || message, { cause: reason })
  }
  return new CancelledError(message, { cause: reason })
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
