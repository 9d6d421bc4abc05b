// Per-route options of a request's task group (Fastify's `config.concurrency`, Express's and
// Koa's `c.route()`), validated once, here, when the route is declared.
import { codedError, errorCodes } from '../errors.js'
import { copyOptions, describe, validateDuration, validateInteger } from '../internal/validation.js'

/** Options of a route's request groups. */
export interface RouteGroupOptions {
  /**
   * At most this many of the request's tasks run at once; the rest queue (FIFO).
   * @default Infinity
   */
  limit?: number
  /** Past this many ms the request's tasks are cancelled with a TimeoutError (answered 504 if it escapes). */
  timeout?: number
}

const keys: ReadonlySet<string> = new Set(['limit', 'timeout'])

/**
 * Checks a route's request-group options and returns a copy (the caller's object is never kept
 * or modified). `where` names them in error messages (`'config.concurrency of route GET /r'`,
 * `'c.route()'`). Throws a TypeError (`ERR_INVALID_ARG_TYPE`) for a value of the wrong type or an
 * unknown key (`ERR_INVALID_ARG_VALUE`), a RangeError (`ERR_OUT_OF_RANGE`) for a number out of
 * range; each message names the option and the value received.
 *
 * @example
 * ```ts
 * validateRouteOptions({ timeout: 2_000, limit: 4 }, 'c.route()') // { timeout: 2000, limit: 4 }
 * validateRouteOptions({ limit: 0 }, 'c.route()') // RangeError: The "limit" option of c.route() must be an integer >= 1 ...
 * ```
 */
export function validateRouteOptions(options: RouteGroupOptions | undefined, where: string): RouteGroupOptions {
  const opts = copyOptions(options, `The options of ${where}`)
  for (const key of Object.keys(opts)) {
    if (keys.has(key)) continue
    const value = describe(opts[key as keyof RouteGroupOptions])
    const message = `The options of ${where} have an unknown key "${key}" (${value}): use limit or timeout`
    throw codedError(TypeError, errorCodes.invalidArgValue, message)
  }
  const limit = validateInteger(opts.limit, `The "limit" option of ${where}`, 1, true)
  const timeout = validateDuration(opts.timeout, `The "timeout" option of ${where}`)
  const valid: RouteGroupOptions = {}
  if (limit !== undefined) valid.limit = limit
  if (timeout !== undefined) valid.timeout = timeout
  return valid
}
