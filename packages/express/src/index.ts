/**
 * taskscope for Express 5: `req.taskGroup` (a TaskGroup per request, cancelled when the client
 * goes away), `req.threadpool`, `req.backgroundTasks`, per-route `c.route({ limit, timeout })`, an
 * error handler that answers escaped cancellations quietly, and a graceful shutdown (`c.close()`,
 * `c.attach(server)`). The logic lives in `@taskscope/core`; this file maps Express onto it.
 *
 * @module
 */
import { IncomingMessage, type ServerResponse } from 'node:http'
import type { AfterResponseMethods } from '@taskscope/core'
import { createRuntime, type RegisteredBackgroundTasks, type RuntimeOptions, type TaskGroup, type Threadpool } from '@taskscope/core'
import * as kit from '@taskscope/core/adapter'

declare global {
  namespace Express {
    /** `req.after(work)` and `req.waitUntil(work)`: work after the response, in the app's background tasks. */
    interface Request extends AfterResponseMethods {
      /**
       * The request's TaskGroup, created on first use. Its signal aborts with
       * `ClientDisconnectedError` when the client goes away before the response completes;
       * tasks still running when the response completes are cancelled with `RequestFinishedError`.
       */
      taskGroup: TaskGroup
      /** The app's worker pool (created on first use). */
      threadpool: Threadpool
      /**
       * The app's background tasks: work that must outlive the request. Typed as the registry
       * declared in `Register` (`@taskscope/core`), the embedded one by default.
       */
      backgroundTasks: RegisteredBackgroundTasks
    }
  }
}

/** Options of {@link concurrency}: the runtime's options. */
export interface ConcurrencyOptions extends RuntimeOptions {}

/** Options of {@link ConcurrencyMiddleware.route}: the route's request groups' `limit` and `timeout`. */
export interface RouteConcurrencyOptions extends kit.RouteGroupOptions {}

/** A plain Express middleware (what `c.route()` returns). */
export type Middleware = (req: IncomingMessage, res: ServerResponse, next: (error?: unknown) => void) => void

/** The error middleware returned by {@link ConcurrencyMiddleware.errorHandler}. */
export type ConcurrencyErrorHandler = (error: unknown, req: IncomingMessage, res: ServerResponse, next: (error?: unknown) => void) => void

/** The middleware returned by {@link concurrency}, with the app-level handle on it. */
export interface ConcurrencyMiddleware extends kit.RuntimeHandle, Middleware {
  /** An error middleware to mount after your routes: escaped cancellations answer 499 (or their own status) quietly. */
  errorHandler(): ConcurrencyErrorHandler
  /**
   * A route middleware setting the `limit` and `timeout` of its requests' `req.taskGroup`:
   * `app.get('/r', c.route({ timeout: 2_000, limit: 4 }), handler)`. The options are checked now
   * (a TypeError/RangeError naming the option); at request time it fails with
   * `ERR_TASKSCOPE_GROUP_CREATED` if something already used `req.taskGroup`.
   */
  route(options: RouteConcurrencyOptions): Middleware
}

type ScopedRequest = IncomingMessage & { log?: unknown; baseUrl?: string; route?: { path?: unknown } }

// The getters live on a prototype shared by every request (no closure per request).
const binding = kit.requestBinding<ScopedRequest>({
  name: 'req',
  namespace: 'express',
  adapter: 'concurrency()',
  install: 'app.use(concurrency()) before your routes',
  request: (req) => req,
  response: (req) => (req as ScopedRequest & { res: ServerResponse }).res,
  groupOptions: (req) => ({ logger: kit.asLogger(req.log) }),
  route: (req) => (typeof req.route?.path === 'string' ? `${req.baseUrl ?? ''}${req.route.path}` : undefined),
})
const hosts = new WeakSet<object>()

/**
 * Defines the getters once, on the request prototype just above IncomingMessage.prototype:
 * `express.request`, shared by every app and sub-app (a mounted sub-app swaps `req`'s prototype
 * to its own `app.request`, which inherits from it). A bare IncomingMessage gets its own.
 */
function installAccessors(req: IncomingMessage): void {
  if ('taskGroup' in req) return // defined on its prototype already: every request but the first
  let host: object = req
  let proto = Object.getPrototypeOf(req) as object | null
  for (; proto !== null && proto !== IncomingMessage.prototype; proto = Object.getPrototypeOf(proto)) host = proto
  if (proto === null || host === req) return void Object.defineProperties(req, binding.accessors)
  if (hosts.has(host)) return
  if (!Object.hasOwn(host, 'taskGroup')) Object.defineProperties(host, binding.accessors)
  hosts.add(host)
}

function send(res: ServerResponse, { status, headers, body }: kit.HttpAnswer): void {
  res.writeHead(status, { ...headers, 'Content-Length': String(Buffer.byteLength(body)) }).end(body)
}

/**
 * Creates the middleware (mount it first: `app.use(c)`) and the app's runtime. Each request gets
 * `req.taskGroup`, `req.threadpool` and `req.backgroundTasks`; mount `c.errorHandler()` after
 * your routes. One per app: the same `c` may be mounted again (on a router), but a second,
 * different one on a request's path fails that request with `ERR_TASKSCOPE_ALREADY_REGISTERED`.
 * Shutdown: `c.attach(server)` once listening, then `await c.close()` from your SIGTERM handler.
 * While shutting down, new requests get 503 + `Connection: close`.
 *
 * Throws a TypeError/RangeError for invalid options, and a TypeError for `app.use(concurrency)`
 * (it must be called: `app.use(concurrency())`).
 *
 * @example
 * ```ts
 * const c = concurrency({ shutdownTimeout: 5_000 })
 * app.use(c)
 * app.get('/report', c.route({ timeout: 2_000 }), async (req, res) => {
 *   res.json(await req.taskGroup.createTask((signal) => db.query(sql, { signal })))
 * })
 * app.use(c.errorHandler())
 * const server = c.attach(app.listen(3000))
 * process.once('SIGTERM', async () => { await c.close(); process.exit(0) })
 * ```
 */
export function concurrency(options?: ConcurrencyOptions): ConcurrencyMiddleware {
  kit.rejectUncalled(options)
  const runtime = createRuntime(options)

  const middleware: Middleware = function concurrencyMiddleware(req, res, next) {
    if (!binding.mount(req, runtime, res)) return next()
    installAccessors(req)
    const draining = kit.drainingAnswer(runtime, req)
    if (draining !== undefined) return send(res, draining)
    binding.run(req, next)
  }

  const errorHandler = (): ConcurrencyErrorHandler =>
    function concurrencyErrorHandler(error, req, res, next) {
      const logger = kit.asLogger((req as ScopedRequest).log) ?? runtime.logger
      const answer = kit.answerCancellation(error, { req, res, group: binding.group(req), logger })
      if (answer === undefined) return next(error)
      if (answer === 'end') return void (res.writableEnded || res.destroy())
      send(res, answer)
    }

  const route = (routeOptions: RouteConcurrencyOptions): Middleware => {
    const valid = kit.validateRouteOptions(routeOptions, 'c.route()')
    return function concurrencyRoute(req, _res, next) {
      binding.setRouteOptions(req, valid)
      next()
    }
  }

  return Object.assign(kit.withRuntimeHandle(middleware, runtime), { errorHandler, route })
}

export default concurrency
