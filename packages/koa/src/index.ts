/**
 * taskscope for Koa 3: `ctx.taskGroup` (a TaskGroup per request, cancelled when the client goes
 * away), `ctx.threadpool`, `ctx.backgroundTasks`, per-route `c.route({ limit, timeout })`, escaped
 * cancellations answered quietly, and a graceful shutdown (`c.close()`, `c.attach(server)`). The
 * logic lives in `@taskscope/core`; this file maps Koa onto it.
 *
 * @module
 */

import type { AfterResponseMethods } from '@taskscope/core'
import {
  createRuntime,
  type RegisteredBackgroundTasks,
  type Runtime,
  type RuntimeOptions,
  type TaskGroup,
  type Threadpool,
} from '@taskscope/core'
import * as kit from '@taskscope/core/adapter'
import type Koa from 'koa'
import { backgroundFailure, taskFailures, withBackgroundErrors } from './errors.js'

declare module 'koa' {
  /** `ctx.after(work)` and `ctx.waitUntil(work)`: work after the response, in the app's background tasks. */
  interface BaseContext extends AfterResponseMethods {
    /**
     * The request's TaskGroup, created on first use. Its signal aborts with
     * `ClientDisconnectedError` when the client goes away before the response completes; tasks
     * still running when the response has been written are cancelled with `RequestFinishedError`.
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

/**
 * Options of {@link concurrency}: the runtime's options. Unless you pass your own `onError` (or
 * a `BackgroundTasks`), background failures go to `app.emit('error', err)`, Koa's error sink.
 */
export interface ConcurrencyOptions extends RuntimeOptions {}

/** Options of {@link ConcurrencyMiddleware.route}: the route's request groups' `limit` and `timeout`. */
export interface RouteConcurrencyOptions extends kit.RouteGroupOptions {}

/** Any Koa context, whatever its state and custom context types. */
type AnyContext = Koa.ParameterizedContext<any, any, any>

/** A Koa middleware for any context. */
export type Middleware = (ctx: AnyContext, next: Koa.Next) => Promise<void>

/** The middleware returned by {@link concurrency}, with the app-level handle on it. */
export interface ConcurrencyMiddleware extends kit.RuntimeHandle, Middleware {
  /**
   * A route middleware setting the `limit` and `timeout` of its requests' `ctx.taskGroup`:
   * `router.get('/r', c.route({ timeout: 2_000, limit: 4 }), handler)`. The options are checked
   * now (a TypeError/RangeError naming the option); at request time it throws
   * `ERR_TASKSCOPE_GROUP_CREATED` if something already used `ctx.taskGroup`.
   */
  route(options: RouteConcurrencyOptions): Middleware
}

// The getters live on `app.context` (every ctx's prototype), defined once per app.
const binding = kit.requestBinding<AnyContext & { log?: unknown; _matchedRoute?: unknown }>({
  name: 'ctx',
  namespace: 'koa',
  adapter: 'concurrency()',
  install: 'app.use(concurrency()) before your routes',
  request: (ctx) => ctx.req,
  response: (ctx) => ctx.res,
  groupOptions: (ctx) => ({
    logger: kit.asLogger(ctx.log),
    // Koa's error sink prints only `err.stack`: each failed task's own error goes there.
    onError: (error) => {
      for (const failure of taskFailures(error)) ctx.app.emit('error', failure, ctx)
    },
  }),
  // @koa/router's matched pattern, when it is installed.
  route: (ctx) => (typeof ctx._matchedRoute === 'string' ? ctx._matchedRoute : undefined),
})

function send(ctx: AnyContext, { status, headers, body }: kit.HttpAnswer): void {
  ctx.status = status
  ctx.set(headers)
  ctx.body = body
}

/**
 * Creates the middleware (mount it first: `app.use(c)`) and the app's runtime. Each ctx gets
 * `ctx.taskGroup`, `ctx.threadpool` and `ctx.backgroundTasks`. The request group lives until the
 * response has really been written (after every middleware returned and Koa wrote the body), not
 * until `await next()` returns. A cancellation that escapes the handlers answers its status
 * (499, or its own, such as 503) and is not printed; once the client is gone it is swallowed.
 * One per app: the same `c` may be mounted again, but a second, different one on a request's path
 * throws `ERR_TASKSCOPE_ALREADY_REGISTERED`. Shutdown: `c.attach(server)`, then `await c.close()`.
 *
 * Throws a TypeError/RangeError for invalid options, and a TypeError for `app.use(concurrency)`
 * (it must be called: `app.use(concurrency())`).
 *
 * @example
 * ```ts
 * const c = concurrency({ shutdownTimeout: 5_000 })
 * app.use(c)
 * app.use(async (ctx) => {
 *   ctx.body = await ctx.taskGroup.createTask((signal) => fetchReport(signal))
 * })
 * const server = c.attach(app.listen(3000))
 * process.once('SIGTERM', async () => { await c.close(); process.exit(0) })
 * ```
 */
export function concurrency(options?: ConcurrencyOptions): ConcurrencyMiddleware {
  kit.rejectUncalled(options)
  const apps = new Set<Koa<any, any>>()
  // Background failures go to app.emit('error'), Koa's error sink (the runtime's logger until an app was seen).
  const runtime: Runtime = createRuntime(
    withBackgroundErrors(options, (error, task) => {
      if (apps.size === 0) runtime.logger.error({ err: error, task: { id: task.id, name: task.name } }, 'background task failed')
      for (const app of apps) app.emit('error', backgroundFailure(error, task))
    }),
  )

  /** What escaped the handlers: a failure goes on to Koa; a cancellation is answered here. */
  const escaped = (ctx: AnyContext, error: unknown): void => {
    const logger = kit.asLogger(ctx.log) ?? runtime.logger
    const answer = kit.answerEscaped(error, { req: ctx.req, res: ctx.res, group: binding.group(ctx), logger })
    // A failure (also the one behind a cancellation a task's failure caused): Koa answers it and emits 'error'.
    if (typeof answer === 'object' && 'fail' in answer) throw answer.fail
    // Koa would turn 499 into 500 (it knows only registered statuses) and print errors that are
    // not `expose`d: answer here instead.
    if (answer !== 'end') return send(ctx, answer)
    ctx.respond = false
    if (!ctx.res.writableEnded) ctx.res.destroy()
  }

  // Not an async function: the promise of the rest of the chain, with one reaction of ours for
  // what escapes it (an async function would add its own promise and suspended frame per request).
  const middleware: Middleware = function concurrencyMiddleware(ctx, next) {
    try {
      if (!binding.mount(ctx, runtime, ctx.res)) return Promise.resolve(next())
      if (!apps.has(ctx.app)) {
        if (!Object.hasOwn(ctx.app.context, 'taskGroup')) Object.defineProperties(ctx.app.context, binding.accessors)
        apps.add(ctx.app)
      }
      const draining = kit.drainingAnswer(runtime, ctx.req)
      if (draining !== undefined) return Promise.resolve(send(ctx, draining))
    } catch (error) {
      return Promise.reject(error) // a rejection, as from an async middleware
    }
    let rest: Promise<void>
    try {
      // Koa's `next` returns a native promise (then this is that promise itself, no copy).
      rest = Promise.resolve(binding.run(ctx, next))
    } catch (error) {
      // Koa's own `next` never throws; a wrapped one might.
      return new Promise<void>((resolve) => resolve(escaped(ctx, error)))
    }
    return rest.then(undefined, (error: unknown) => escaped(ctx, error))
  }

  const route = (routeOptions: RouteConcurrencyOptions): Middleware => {
    const valid = kit.validateRouteOptions(routeOptions, 'c.route()')
    return async function concurrencyRoute(ctx, next) {
      binding.setRouteOptions(ctx, valid)
      await next()
    }
  }

  return Object.assign(kit.withRuntimeHandle(middleware, runtime), { route })
}

export default concurrency
