// What every adapter does the same way at the app level: the handle on a middleware (`c.stats()`,
// `c.close()`…), the guard against `app.use(concurrency)`, and the 503 while draining.
import { IncomingMessage } from 'node:http'
import { Http2ServerRequest } from 'node:http2'
import { codedError, errorCodes } from '../errors.js'
import type { RegisteredBackgroundTasks } from '../primitives/register.js'
import type { Threadpool } from '../threadpool/threadpool.js'
import { type HttpAnswer, plainText, shuttingDownAnswer } from './escaped-cancellation.js'
import type { RuntimeInspection } from './observe.js'
import type { HttpRequest } from './response-lifecycle.js'
import type { Runtime, RuntimeCloseOptions, RuntimeCloseSummary, RuntimeStats } from './runtime.js'
import type { DrainableServer } from './server-drain.js'

/** The app-level handle on a middleware: the runtime and its shortcuts. */
export interface RuntimeHandle {
  /** The runtime behind it. */
  readonly runtime: Runtime
  /** The app's worker pool (created on first use). */
  readonly threadpool: Threadpool
  /** The app's background tasks, typed as the registry declared in `Register` (the embedded one by default). */
  readonly backgroundTasks: RegisteredBackgroundTasks
  /** What the runtime is doing (see `Runtime.stats`). */
  stats(): RuntimeStats
  /** The live tree of requests, their tasks and background tasks (see `Runtime.inspect`). */
  inspect(): RuntimeInspection
  /** Graceful shutdown (see `Runtime.close`); idempotent. */
  close(options?: RuntimeCloseOptions): Promise<RuntimeCloseSummary>
  /** Ties a node:http(s) server to `close()` (see `Runtime.attach`); returns the server. */
  attach<S extends DrainableServer>(server: S): S
}

/**
 * Puts the {@link RuntimeHandle} members on `target` (a middleware function) and returns it.
 *
 * @example
 * ```ts
 * const middleware = withRuntimeHandle(function concurrency(req, res, next) { next() }, createRuntime())
 * middleware.stats()
 * ```
 */
export function withRuntimeHandle<T extends object>(target: T, runtime: Runtime): T & RuntimeHandle {
  return Object.defineProperties(target, {
    runtime: { value: runtime, enumerable: true },
    threadpool: { get: () => runtime.threadpool, enumerable: true },
    backgroundTasks: { value: runtime.backgroundTasks, enumerable: true },
    stats: { value: () => runtime.stats() },
    inspect: { value: () => runtime.inspect() },
    close: { value: (options?: RuntimeCloseOptions) => runtime.close(options) },
    attach: { value: <S extends DrainableServer>(server: S): S => runtime.attach(server) },
  }) as T & RuntimeHandle
}

/** True for what a framework passes a middleware first: a Node request, or a context holding one (Koa's `ctx`). */
function looksLikeRequest(value: unknown): boolean {
  if (value instanceof IncomingMessage || value instanceof Http2ServerRequest) return true
  return typeof value === 'object' && value !== null && 'req' in value && 'res' in value
}

/**
 * Throws when a middleware factory received a request instead of its options: the app wrote
 * `app.use(concurrency)` where it meant `app.use(concurrency())`. The TypeError has the code
 * `ERR_INVALID_ARG_TYPE` (the options argument has the wrong type) and says how to fix it.
 *
 * @example
 * ```ts
 * export function concurrency(options?: ConcurrencyOptions) {
 *   rejectUncalled(options)
 *   // ...
 * }
 * ```
 */
export function rejectUncalled(options: unknown): void {
  if (!looksLikeRequest(options)) return
  const message =
    'The options must be an object, not a request: it looks like you wrote app.use(concurrency); call it instead, app.use(concurrency())'
  throw codedError(TypeError, errorCodes.invalidArgType, message)
}

/**
 * The 503 for a request that arrives while `runtime` shuts down (`Retry-After: 1`, and
 * `Connection: close` over HTTP/1), or undefined when it is not shutting down: the adapter sends
 * it instead of running the app.
 *
 * @example
 * ```ts
 * const answer = drainingAnswer(runtime, req)
 * if (answer !== undefined) return void res.writeHead(answer.status, answer.headers).end(answer.body)
 * ```
 */
export function drainingAnswer(runtime: Runtime, req: HttpRequest): HttpAnswer | undefined {
  if (!runtime.draining) return undefined
  const { status, body } = shuttingDownAnswer
  return { status, headers: { ...shuttingDownAnswer.headers(req.httpVersionMajor), 'Content-Type': plainText }, body }
}
