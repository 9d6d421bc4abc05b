// The error a cancelled query rejects with: the scope's own cancellation, as its tasks see it.
import { CancelledError, TimeoutError } from '@taskscope/core'

const cancellations = new WeakMap<AbortSignal, Error>()

/** Whether a reason is a DOMException (or other error) named TimeoutError; false for anything that throws when read. */
function isTimeout(reason: unknown): boolean {
  try {
    return reason instanceof Error && reason.name === 'TimeoutError'
  } catch {
    return false
  }
}

/**
 * The cancellation of an aborted signal: its reason when that is a CancelledError (a
 * ClientDisconnectedError, a TimeoutError...), our TimeoutError for a DOMException TimeoutError,
 * else a CancelledError with the reason as `cause`. One object per signal, so that every query of
 * a scope rejects with the same error and it can be recognised by identity.
 */
export function cancellationOf(signal: AbortSignal): Error {
  let cancellation = cancellations.get(signal)
  if (cancellation !== undefined) return cancellation
  const reason: unknown = signal.reason
  if (reason instanceof CancelledError) cancellation = reason
  else if (isTimeout(reason)) cancellation = new TimeoutError('The query was stopped at its deadline', { cause: reason })
  else cancellation = new CancelledError('The query was cancelled', { cause: reason })
  cancellations.set(signal, cancellation)
  return cancellation
}

/** Whether `error` is the cancellation of `signal` (as made by {@link cancellationOf}). */
export function isCancellationOf(error: unknown, signal: AbortSignal): boolean {
  return signal.aborted && cancellations.get(signal) === error
}
