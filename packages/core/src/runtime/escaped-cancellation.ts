// What an adapter answers when an error escapes a handler: once, here, for every framework.
// A cancellation is answered for its cause. Cancelled because a task failed: the request fails
// with that failure, through the framework's own error path (which logs it, once). Else a
// cancellation is never a failure: a quiet 499 (or its own status, 503 on shutdown, 504 on a
// timeout), never a logged 500; once the client is gone there is nobody to answer.
import { STATUS_CODES } from 'node:http'
import { errorCodes, isCancellation, TaskGroupError } from '../errors.js'
import { isFailureCancellation } from '../internal/cancel.js'
import { kAnsweredFailures, kCancelKind } from '../internal/symbols.js'
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

/** Where the escaped error happened. */
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
  const gone = clientGone(req, res, group)
  const { code, message, expose } = error as { code?: unknown; message?: unknown; expose?: unknown }
  const fields = { statusCode: status, code, message }
  if (gone) log(logger, 'debug', fields, 'request cancelled: the client went away')
  else log(logger, 'info', fields, 'request cancelled')
  if (gone || res.headersSent) return 'end'
  const body = expose === true && typeof message === 'string' ? message : (STATUS_CODES[status] ?? 'Client Closed Request')
  return { status, headers: { 'Content-Type': plainText }, body }
}

/**
 * What to do with an error that escaped a handler: `{ fail }` to pass `fail` on through the
 * framework's own error path (as if the handler had thrown it), or an {@link CancellationAnswer}.
 */
export type EscapedAnswer = { readonly fail: unknown } | CancellationAnswer

type Answered = { [kAnsweredFailures]?: unknown[] }

/** The client went away, or the response can no longer be written. */
function clientGone(req: HttpRequest, res: HttpResponse, group: TaskGroup | undefined): boolean {
  return (
    (res as { destroyed?: boolean }).destroyed === true ||
    req.socket?.destroyed === true ||
    (group?.signal.reason as { code?: unknown } | undefined)?.code === errorCodes.clientClosedRequest
  )
}

/** The failure behind a cancellation: the task failure that made a group cancel its tasks, if that is why. */
function failureBehind(error: unknown, group: TaskGroup | undefined): { failure: unknown } | undefined {
  // The cancellation itself, or what it wraps (Node's AbortError carries the signal's reason as `cause`).
  let current: unknown = error
  for (let depth = 0; depth < 4 && typeof current === 'object' && current !== null; depth++) {
    if (isFailureCancellation(current)) return { failure: current.cause }
    try {
      current = (current as { cause?: unknown }).cause
    } catch {
      break
    }
  }
  // A cancellation of the request's own group (a signal it handed out), which a task's failure caused.
  if (group?.[kCancelKind] === 'failure') {
    const reason: unknown = group.signal.reason
    if (isFailureCancellation(reason)) return { failure: reason.cause }
  }
  return undefined
}

/** The failures a TaskGroupError stands for, nested ones flattened, cancellations left out. */
function failuresIn(error: unknown): unknown[] {
  if (!(error instanceof TaskGroupError) && (error as { code?: unknown } | null)?.code !== errorCodes.taskGroup) return [error]
  const errors = (error as { errors?: unknown }).errors
  if (!Array.isArray(errors)) return [error]
  return errors.flatMap((inner) => (isCancellation(inner) ? [] : failuresIn(inner)))
}

/**
 * The error a request fails with when `error` escaped its handler, or undefined when `error` is a
 * cancellation to answer as one (see {@link answerCancellation}):
 * - a cancellation caused by a task's failure (the task's group, the request's or a nested one,
 *   was cancelled because a task failed): that failure, unless the client is gone;
 * - a {@link TaskGroupError} of a single failure (from `await group.close()`, `TaskGroup.run`):
 *   that failure, so that its own `status`/`statusCode` answers; of several: the TaskGroupError;
 * - any other error: itself.
 *
 * What it returns is recorded as answered for this response: when the request's group closes, it
 * is not reported again as a failure nobody observed.
 *
 * @example
 * ```ts
 * app.addHook('onRoute', (route) => {
 *   const handler = route.handler
 *   route.handler = async function (request, reply) {
 *     try { return await handler.call(this, request, reply) }
 *     catch (error) { throw escapedFailure(error, context(request, reply))?.fail ?? error }
 *   }
 * })
 * ```
 */
export function escapedFailure(error: unknown, context: Omit<EscapedCancellationContext, 'logger'>): { fail: unknown } | undefined {
  const { req, res, group } = context
  let failure: unknown
  if (isCancellation(error)) {
    if (clientGone(req, res, group)) return undefined
    const behind = failureBehind(error, group)
    if (behind === undefined) return undefined
    failure = behind.failure
  } else {
    failure = error
  }
  const failures = failuresIn(failure)
  const fail = failures.length === 1 ? failures[0] : failure
  const answered = ((res as Answered)[kAnsweredFailures] ??= [])
  answered.push(fail, ...failures)
  return { fail }
}

/**
 * The one rule for an error that escaped a handler, for every adapter: `{ fail }` to pass on
 * through the framework's own error path (Fastify's error handler, Express's `next(error)`, Koa's
 * throw and `app.on('error')`), which answers 500 or the failure's own `status`/`statusCode` and
 * logs it — for any failure, and for a cancellation caused by a task's failure (never 499); else
 * the answer to a cancellation (see {@link answerCancellation}): 504 for a timeout, 503 for a
 * shutdown, 499 (or nothing once the client is gone) for a disconnect, at info or below.
 *
 * @example
 * ```ts
 * const answer = answerEscaped(error, { req, res, group, logger })
 * if (typeof answer === 'object' && 'fail' in answer) return next(answer.fail)
 * if (answer === 'end') return void res.destroy()
 * res.writeHead(answer.status, answer.headers).end(answer.body)
 * ```
 */
export function answerEscaped(error: unknown, context: EscapedCancellationContext): EscapedAnswer {
  return escapedFailure(error, context) ?? answerCancellation(error, context)!
}

/**
 * @internal A request group's unobserved failure, less what the request was answered with
 * already (see {@link escapedFailure}): undefined when nothing is left to report.
 */
export function unanswered(failure: unknown, res: HttpResponse): unknown {
  const answered = (res as Answered)[kAnsweredFailures]
  if (answered === undefined || answered.length === 0) return failure
  if (answered.includes(failure)) return undefined
  const failures = failuresIn(failure)
  const rest = failures.filter((error) => !answered.includes(error))
  if (rest.length === failures.length) return failure
  if (rest.length === 0) return undefined
  return new TaskGroupError(rest, (failure as Error).message)
}
