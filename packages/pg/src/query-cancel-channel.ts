// `taskscope:pg.query.cancel`, the diagnostics channel on which a query cancelled on the server is
// reported, once its cancellation has played out. Publishing is free when nobody subscribes: the
// call site checks `hasSubscribers` before it builds the message.
import diagnostics from 'node:diagnostics_channel'

/**
 * What `taskscope:pg.query.cancel` carries: one message per query that `cancellable()` cancelled on
 * the server (a cancel request was sent for it), published once the query has ended and the
 * server has answered the cancel request, just before the query's promise settles.
 *
 * Not published for a query that completes while its scope is alive, for a query made outside any
 * scope or inside `shield()`, nor for one rejected before it reached the server (made in a scope
 * already cancelled, or still waiting for a connection): nothing ran on the server to cancel.
 *
 * @example
 * ```ts
 * import diagnostics from 'node:diagnostics_channel'
 * import type { QueryCancelMessage } from '@taskscope/pg'
 *
 * diagnostics.subscribe('taskscope:pg.query.cancel', (message) => {
 *   const { pid, runningMs, reason, text } = message as QueryCancelMessage
 *   logger.info({ pid, runningMs, code: (reason as { code?: string }).code, text }, 'query cancelled on the server')
 * })
 * ```
 */
export interface QueryCancelMessage {
  /** The process id of the backend the cancel request targeted (`pg_stat_activity.pid`). */
  readonly pid: number
  /** The server the cancel request went to (the client's `host`: a name, an address or a socket folder). */
  readonly host: string
  /** The server's port. */
  readonly port: number
  /**
   * The scope's cancellation, the very error the query rejects with: a `CancelledError` (match on
   * its `code`: `ERR_CLIENT_CLOSED_REQUEST` for a client that disconnected, `ERR_TIMEOUT` for a
   * deadline, `ERR_CANCELLED` otherwise).
   */
  readonly reason: Error
  /** The query's SQL, its first 200 characters (`…` added when it was cut); never its values. */
  readonly text: string | undefined
  /** The query's name (a prepared statement's), when it has one. */
  readonly name: string | undefined
  /** How long the query had been running on the server when its scope was cancelled, in ms. */
  readonly runningMs: number
  /** From the cancellation until the query ended and the server answered the cancel request, in ms. */
  readonly stopMs: number
  /**
   * How the query ended: `'cancelled'` (the server stopped it), `'completed'` (it finished before
   * the cancel reached it: its result is delivered) or `'failed'` (it failed with another error).
   */
  readonly outcome: 'cancelled' | 'completed' | 'failed'
  /** How many cancel requests were sent: more than one when the server dropped an early one. */
  readonly cancelRequests: number
  /** Whether the server accepted the last cancel request (it read it and closed its connection). */
  readonly acknowledged: boolean
  /** Why the last cancel request could not be delivered, when it could not (the query then ran on). */
  readonly error: Error | undefined
  /** The node-postgres client whose query it was. */
  readonly client: object
}

/** `taskscope:pg.query.cancel`: a query was cancelled on the server (see {@link QueryCancelMessage}). */
export const queryCancelChannel = diagnostics.channel('taskscope:pg.query.cancel')

/** How many characters of a query's SQL a message carries. */
export const queryTextLimit = 200

/**
 * A query's SQL for a message: at most {@link queryTextLimit} characters, `…` in place of the rest
 * (never splitting a surrogate pair); undefined for anything but a string.
 */
export function shortText(text: unknown): string | undefined {
  if (typeof text !== 'string') return undefined
  if (text.length <= queryTextLimit) return text
  let end = queryTextLimit - 1
  const last = text.charCodeAt(end - 1)
  if (last >= 0xd800 && last <= 0xdbff) end-- // a high surrogate: keep the pair whole by leaving it out
  return `${text.slice(0, end)}…`
}
