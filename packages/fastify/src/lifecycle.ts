// Two places where Fastify's own request lifecycle needs a nudge: its handlerTimeout, and its
// error handler's log line for a cancellation that taskscope has logged already.

import type { RequestGroupOptions } from '@taskscope/core'
import { type TaskGroup, TimeoutError } from '@taskscope/core'
import type { RouteGroupOptions } from '@taskscope/core/adapter'
import type { FastifyBaseLogger, FastifyReply, FastifyRequest } from 'fastify'

/** The options of a request's group on Fastify: the runtime's, and the route's handlerTimeout. */
export interface FastifyGroupOptions extends RequestGroupOptions {
  /** The route's `handlerTimeout` (Fastify 5.8+), when it has one. */
  handlerTimeout?: number | undefined
}

/**
 * The options of a request's group: its logger, the route's `config.concurrency`, and Fastify's
 * handlerTimeout (5.8+) as the group's timeout when it is the earlier one, so that
 * `group.deadline` tells when Fastify gives up on the handler. Reads `request.routeOptions` (a
 * getter that builds an object each time) once.
 */
export function groupOptions(request: FastifyRequest): FastifyGroupOptions {
  const { config, handlerTimeout } = request.routeOptions
  const route = config?.concurrency as RouteGroupOptions | undefined
  const logger = writingLogger(request.log)
  if (handlerTimeout === undefined || handlerTimeout <= 0) return route === undefined ? { logger } : { ...route, logger }
  const timeout = (route?.timeout ?? Infinity) <= handlerTimeout ? route?.timeout : handlerTimeout
  return { ...route, logger, timeout, handlerTimeout }
}

/**
 * Fastify's handlerTimeout (5.8+) aborts request.signal with FST_ERR_HANDLER_TIMEOUT: the
 * request's tasks end as timed out, not as stragglers. Any other abort of request.signal is
 * ignored (on Fastify 5.8–5.12 it also fires as soon as a body was read).
 */
export function tieHandlerTimeout(group: TaskGroup, request: FastifyRequest, options: RequestGroupOptions | undefined): void {
  const handlerTimeout = (options as FastifyGroupOptions | undefined)?.handlerTimeout
  if (handlerTimeout === undefined) return
  const { signal } = request
  const onTimeout = (): void => {
    if ((signal.reason as { code?: unknown } | undefined)?.code !== 'FST_ERR_HANDLER_TIMEOUT') return
    group.cancel(new TimeoutError(`The handler timed out after ${handlerTimeout} ms`, { cause: signal.reason }))
  }
  if (signal.aborted) onTimeout()
  else signal.addEventListener('abort', onTimeout, { once: true })
}

/**
 * `request.log` when Fastify's logger writes, else undefined (the runtime's logger then takes
 * over): with `logger: false`, Fastify's default and NestJS's, `request.log` drops everything, and
 * a failure nobody observed must still be said somewhere.
 */
export function writingLogger(log: FastifyBaseLogger): FastifyBaseLogger | undefined {
  return typeof log.level === 'string' && log.level !== 'silent' ? log : undefined
}

const noop = (): void => {}
const silent = {
  level: 'silent',
  ...Object.fromEntries(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'].map((level) => [level, noop])),
  child: () => silent,
}
const kLog = Symbol('taskscope.replyLog')
type QuietReply = FastifyReply & { [kLog]?: FastifyBaseLogger }

/**
 * Silences `reply.log` from the onError hook until the response has finished: the error handler
 * that Fastify runs in between would log the cancellation again, with its stack. Fastify's
 * "request completed" (or "request errored") line, written when the response finishes, gets the
 * logger back: the listener that restores it goes first. When the response never finishes (the
 * client is gone) it stays silent: there is nothing left to log for that reply.
 */
export function silenceLog(reply: FastifyReply): void {
  const quiet = reply as QuietReply
  if (quiet[kLog] !== undefined) return
  quiet[kLog] = reply.log
  reply.log = silent as unknown as FastifyBaseLogger
  const restore = (): void => {
    reply.raw.removeListener('finish', restore)
    reply.raw.removeListener('error', restore)
    reply.log = quiet[kLog]!
    quiet[kLog] = undefined
  }
  reply.raw.prependListener('finish', restore)
  reply.raw.prependListener('error', restore)
}
