/**
 * taskscope for Express 5: `req.taskGroup` (a TaskGroup per request, cancelled when the client
 * goes away), `req.threadpool`, `req.backgroundTasks`, an error handler that answers escaped
 * cancellations quietly, and a graceful shutdown (`c.close()`, `c.attach(server)`). All the logic
 * lives in `@taskscope/core`'s runtime; this file only maps Express onto it.
 *
 * @module
 */
import { IncomingMessage, type ServerResponse } from 'node:http'
import {
  type BackgroundTasks,
  createRuntime,
  type Runtime,
  type RuntimeOptions,
  type TaskGroup,
  type Threadpool,
} from '@taskscope/core'
import {
  answerCancellation,
  asLogger,
  type RuntimeHandle,
  shuttingDownAnswer,
  requestAccessors,
  withRuntimeHandle,
} from '@taskscope/core/adapter'

declare global {
  namespace Express {
    interface Request {
      /**
       * The request's TaskGroup, created on first use. Its signal aborts with
       * `ClientDisconnectedError` when the client goes away before the response completes;
       * tasks still running when the response completes are cancelled with `RequestFinishedError`.
       */
      taskGroup: TaskGroup
      /** The app's worker pool (created on first use). */
      threadpool: Threadpool
      /** The app's background tasks: work that must outlive the request. */
      backgroundTasks: BackgroundTasks
    }
  }
}

/** Options of {@link concurrency}: the runtime's options. */
export interface ConcurrencyOptions extends RuntimeOptions {}

/** The error middleware returned by {@link ConcurrencyMiddleware.errorHandler}. */
export type ConcurrencyErrorHandler = (
  error: unknown,
  req: IncomingMessage,
  res: ServerResponse,
  next: (error?: unknown) => void,
) => void

/** The middleware returned by {@link concurrency}, with the app-level handle on it. */
export interface ConcurrencyMiddleware extends RuntimeHandle {
  (req: IncomingMessage, res: ServerResponse, next: (error?: unknown) => void): void
  /** An error middleware to mount after your routes: escaped cancellations answer 499 (or their own status) quietly. */
  errorHandler(): ConcurrencyErrorHandler
}

const kRuntime = Symbol.for('taskscope.express.runtime')
const kResponse = Symbol.for('taskscope.express.response')
const kGroup = Symbol.for('taskscope.express.taskGroup')

interface ScopedRequest extends IncomingMessage {
  [kRuntime]?: Runtime
  [kResponse]?: ServerResponse
  [kGroup]?: TaskGroup
  log?: unknown
}

// Getters shared by every request (defined once, on a prototype): no closure per request.
const accessors = requestAccessors<ScopedRequest>({
  name: 'req',
  runtime: kRuntime,
  group: kGroup,
  createGroup: (req, runtime) => runtime.requestGroup(req, req[kResponse]!, { logger: asLogger(req.log) }),
})
const hosts = new WeakSet<object>()

/**
 * Defines the accessors once, on the request prototype just above IncomingMessage.prototype:
 * `express.request`, shared by every app and sub-app (a mounted sub-app swaps `req`'s prototype
 * to its own `app.request`, which inherits from it). A bare IncomingMessage gets its own.
 */
function installAccessors(req: IncomingMessage): void {
  let host: object = req
  let proto = Object.getPrototypeOf(req) as object | null
  for (; proto !== null && proto !== IncomingMessage.prototype; proto = Object.getPrototypeOf(proto)) host = proto
  if (proto === null || host === req) return void Object.defineProperties(req, accessors)
  if (hosts.has(host)) return
  if (!Object.hasOwn(host, 'taskGroup')) Object.defineProperties(host, accessors)
  hosts.add(host)
}

/** Ends a response with a short plain-text body. */
function answer(res: ServerResponse, status: number, body: string, headers: Record<string, string> = {}): void {
  res.writeHead(status, { ...headers, 'Content-Type': 'text/plain; charset=utf-8', 'Content-Length': String(Buffer.byteLength(body)) })
  res.end(body)
}

/**
 * Creates the middleware (mount it first: `app.use(c)`) and the app's runtime. Each request gets
 * `req.taskGroup`, `req.threadpool` and `req.backgroundTasks`; mount `c.errorHandler()` after
 * your routes. Shutdown: `c.attach(server)` once listening, then `await c.close()` from your
 * SIGTERM handler. While shutting down, new requests get 503 + `Connection: close`.
 *
 * Throws a TypeError/RangeError for invalid options, and a TypeError for `app.use(concurrency)`
 * (it must be called: `app.use(concurrency())`).
 *
 * @example
 * ```ts
 * const c = concurrency({ shutdownTimeout: 5_000 })
 * app.use(c)
 * app.get('/report', async (req, res) => {
 *   const rows = await req.taskGroup.createTask((signal) => db.query(sql, { signal }))
 *   res.json(rows)
 * })
 * app.use(c.errorHandler())
 * const server = c.attach(app.listen(3000))
 * process.once('SIGTERM', async () => { await c.close(); process.exit(0) })
 * ```
 */
export function concurrency(options?: ConcurrencyOptions): ConcurrencyMiddleware {
  if (options instanceof IncomingMessage) {
    throw new TypeError('It looks like you wrote app.use(concurrency); call it instead: app.use(concurrency())')
  }
  const runtime = createRuntime(options)
  let warnedTwice = false

  const middleware = function concurrencyMiddleware(req: IncomingMessage, res: ServerResponse, next: (error?: unknown) => void): void {
    const scoped = req as ScopedRequest
    if (scoped[kRuntime] !== undefined) {
      // Mounted twice (app and router): the first one owns the request.
      if (scoped[kRuntime] !== runtime && !warnedTwice) {
        warnedTwice = true
        runtime.logger.warn({}, 'two concurrency() middlewares ran for one request; the first one is used')
      }
      return next()
    }
    if (runtime.draining) {
      const { status, body } = shuttingDownAnswer
      return answer(res, status, body, shuttingDownAnswer.headers(req.httpVersionMajor))
    }
    scoped[kRuntime] = runtime
    scoped[kResponse] = res
    installAccessors(req)
    next()
  }

  const errorHandler = (): ConcurrencyErrorHandler =>
    function concurrencyErrorHandler(error, req, res, next) {
      const scoped = req as ScopedRequest
      const logger = asLogger(scoped.log) ?? runtime.logger
      const reply = answerCancellation(error, { req, res, group: scoped[kGroup], logger })
      if (reply === undefined) return next(error)
      if (reply === 'end') return void (res.writableEnded || res.destroy())
      answer(res, reply.status, reply.body)
    }

  return Object.assign(withRuntimeHandle(middleware, runtime), { errorHandler })
}

export default concurrency
