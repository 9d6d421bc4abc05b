// What an adapter answers when a cancellation escapes a handler: once, here, for every framework.
// A cancellation is never a failure, so it must end as a quiet 499 (or its own status, such as
// 503 on shutdown), never as a logged 500; once the client is gone there is nobody to answer.
import { STATUS_CODES } from 'node:http'
import { errorCodes, isCancellation } from '../errors.js'
import type { TaskGroup } from '../primitives/task-group.js'
import { type HttpAnswer, plainText } from './draining-answer.js'
import { log, type RuntimeLogger } from './logger.js'
import type { HttpRequest, HttpResponse } from './response-lifecycle.js'

/**
 * The HTTP status that answers a cancellation escaping a handler: its own `statusCode`/`status`
 * (400–599), else that of its `cause` (Node's `AbortError` carries the signal's reason there),
 * else 504 for a DOMException `TimeoutError`, else 499 (client closed request). Undefined when
 * the error is not a cancellation. The adapters use it so that a cancellation ends as a quiet
 * 499 (or 503 on shutdown), never as a 500.
 *
 * @example
 * ```ts
 * cancellationStatus(new ShutdownError()) // 503
 * cancellationStatus(new Error('boom'))   // undefined
 * ```
 */
export function cancellationStatus(error: unknown): number | undefined {
  if (!isCancellation(error)) return undefined
  for (let current: unknown = error, depth = 0; depth < 3 && typeof current === 'object' && current !== null; depth++) {
    const { statusCode, status, cause } = current as { statusCode?: unknown; status?: unknown; cause?: unknown }
    const code = typeof statusCode === 'number' ? statusCode : status
    if (typeof code === 'number' && code >= 400 && code <= 599) return code
    current = cause
  }
  return (error as { name?: unknown }).name === 'TimeoutError' ? 504 : 499
}

/**
 * How to answer a cancellation that escaped a handler: an {@link HttpAnswer} to send, or `'end'`
 * when nothing can be sent any more (the client is gone, or headers went out) and the exchange
 * should just be ended. Undefined when the error is not a cancellation (pass it on).
 */
export type CancellationAnswer = HttpAnswer | 'end'

/** Where the escaped cancellation happened. */
export interface EscapedCancellationContext {
  req: HttpRequest
  res: HttpResponse
  /** The request's group, if it was created: its reason tells a disconnect apart. */
  group?: TaskGroup | undefined
  /** Where to log: at info, or at debug once the client is gone. */
  logger: RuntimeLogger
}

/**
 * Decides and logs the answer to a cancellation that escaped a handler: one line, at info, or at
 * debug once the client is gone (a disconnect is already logged when it happens), never with a
 * stack. Every adapter's error path calls it (and keeps its framework from logging the error
 * again). Returns undefined for anything that is not a cancellation.
 *
 * @example
 * ```ts
 * const answer = answerCancellation(error, { req, res, logger })
 * if (answer === undefined) return next(error)
 * if (answer === 'end') return void res.destroy()
 * res.writeHead(answer.status, answer.headers).end(answer.body)
 * ```
 */
export function answerCancellation(error: unknown, context: EscapedCancellationContext): CancellationAnswer | undefined {
  const status = cancellationStatus(error)
  if (status === undefined) return undefined
  const { req, res, group, logger } = context
  const gone =
    (res as { destroyed?: boolean }).destroyed === true ||
    req.socket?.destroyed === true ||
    (group?.signal.reason as { code?: unknown } | undefined)?.code === errorCodes.clientClosedRequest
  const { code, message, expose } = error as { code?: unknown; message?: unknown; expose?: unknown }
  const fields = { statusCode: status, code, message }
  if (gone) log(logger, 'debug', fields, 'request cancelled: the client went away')
  else log(logger, 'info', fields, 'request cancelled')
  if (gone || res.headersSent) return 'end'
  const body = expose === true && typeof message === 'string' ? message : (STATUS_CODES[status] ?? 'Client Closed Request')
  return { status, headers: { 'Content-Type': plainText }, body }
}
