// What travels through Redis besides the data and the result: failures with their name, message
// and code, and the mark of a cancelled job.
import { CancelledError } from '@taskscope/core'
import { UnrecoverableError } from 'bullmq'

/** A failure as it travels: enough to rebuild an Error that `code` matching still works on. */
export interface WireError {
  name: string
  message: string
  code?: string
  cancelled?: boolean
  /** For a cancelled job: the reason given to `cancel(reason)`, as text. */
  reason?: string
}

/** The prefix of the log line that carries a failure's details next to BullMQ's `failedReason`. */
const logPrefix = 'taskscope.error '
/** The prefix of `failedReason` for a cancelled job: BullMQ keeps it failed, we read it back as cancelled. */
export const cancelledMark = '[taskscope:cancelled] '

export function toWire(error: unknown, cancelled = false): WireError {
  const wire: WireError = error instanceof Error ? { name: error.name, message: error.message } : { name: 'Error', message: String(error) }
  const { code, cause } = (error ?? {}) as { code?: unknown; cause?: unknown }
  if (typeof code === 'string') wire.code = code
  if (cancelled) {
    wire.cancelled = true
    if (cause !== undefined) wire.reason = cause instanceof Error ? cause.message : String(cause)
  }
  return wire
}

export function toLogLine(wire: WireError): string {
  return logPrefix + JSON.stringify(wire)
}

/** The last failure logged by the process that ran the job, if any. */
export function fromLogLines(lines: readonly string[]): WireError | undefined {
  for (let i = lines.length - 1; i >= 0; i--) {
    const line = lines[i]!
    if (!line.startsWith(logPrefix)) continue
    try {
      return JSON.parse(line.slice(logPrefix.length)) as WireError
    } catch {
      return undefined
    }
  }
  return undefined
}

/** The error a job failed with, rebuilt in the process that reads it: a CancelledError for a cancelled job. */
export function fromWire(wire: WireError | undefined, failedReason: string, name: string): Error {
  if (wire?.cancelled === true || failedReason.startsWith(cancelledMark)) {
    const message = wire?.message ?? failedReason.slice(cancelledMark.length)
    const options = wire?.reason === undefined ? undefined : { cause: wire.reason }
    return new CancelledError(message || `Background task "${name}" was cancelled`, options)
  }
  const error = new Error(wire?.message ?? failedReason)
  Object.defineProperty(error, 'name', { value: wire?.name ?? 'Error', configurable: true, writable: true })
  if (wire?.code !== undefined) Object.assign(error, { code: wire.code })
  return error
}

/** What the processor throws for a cancelled job: failed with the mark, never retried. */
export function cancelledFailure(error: unknown): UnrecoverableError {
  return new UnrecoverableError(cancelledMark + (error instanceof Error ? error.message : String(error)))
}

/**
 * A result as stored in the queue: inside an envelope, so that a task returning nothing reads
 * back as `undefined` (JSON has no undefined: BullMQ would store it as null).
 */
export interface StoredResult {
  result?: unknown
}

export function toStoredResult(result: unknown): StoredResult {
  return { result }
}

/** The task's result from what the queue stored (`null` for a job that is not ours: its value as is). */
export function fromStoredResult(stored: unknown): unknown {
  if (typeof stored === 'object' && stored !== null && !Array.isArray(stored)) {
    const keys = Object.keys(stored)
    if (keys.length === 0 || (keys.length === 1 && keys[0] === 'result')) return (stored as StoredResult).result
  }
  return stored
}
