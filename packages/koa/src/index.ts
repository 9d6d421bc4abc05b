/**
 * taskscope for Koa 3: `ctx.taskGroup` (a TaskGroup per request, cancelled when the client goes
 * away), `ctx.threadpool`, `ctx.backgroundTasks`, escaped cancellations answered quietly, and a
 * graceful shutdown (`c.close()`, `c.attach(server)`). All the logic lives in `@taskscope/core`'s
 * runtime; this file only maps Koa onto it.
 *
 * @module
 */
import type Koa from 'koa'
import {
  type BackgroundTasks,
  type BackgroundTasksOptions,
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

declare module 'koa' {
  interface BaseContext {
    /**
     * The request's TaskGroup, created on first use. Its signal aborts with
     * `ClientDisconnectedError` when the client goes away before the response completes; tasks
     * still running when the response has been written are cancelled with `RequestFinishedError`.
     */
    taskGroup: TaskGroup
    /** The app's worker pool (created on first use). */
    threadpool: Threadpool
    /** The app's background tasks: work that must outlive the request. */
    backgroundTasks: BackgroundTasks
  }
}

/**
 * Options of {@link concurrency}: the runtime's options. Unless you pass your own `onError` (or
 * a `BackgroundTasks`), background failures go to `app.emit('error', err)`, Koa's error sink.
 */
export interface ConcurrencyOptions extends RuntimeOptions {}

/** Any Koa context, whatever its state and custom context types. */
type AnyContext = Koa.ParameterizedContext<any, any, any>

/** The middleware returned by {@link concurrency}, with the app-level handle on it. */
export interface ConcurrencyMiddleware extends RuntimeHandle {
  (ctx: AnyContext, next: Koa.Next): Promise<void>
}

const kRuntime = Symbol.for('taskscope.koa.runtime')
const kGroup = Symbol.for('taskscope.koa.taskGroup')

interface ScopedContext {
  [kRuntime]?: Runtime
  [kGroup]?: TaskGroup
  log?: unknown
}

// Getters on `app.context` (every ctx's prototype), defined once per app: no closure per request.
const accessors = requestAccessors<AnyContext & ScopedContext>({
  name: 'ctx',
  runtime: kRuntime,
  group: kGroup,
  createGroup: (ctx, runtime) =>
    runtime.requestGroup(ctx.req, ctx.res, {
      logger: asLogger(ctx.log),
      // Unobserved failures go where Koa sends every error: app.on('error').
      onError: (error) => ctx.app.emit('error', error, ctx),
    }),
})

function isContext(value: unknown): boolean {
  return typeof value === 'object' && value !== null && 'app' in value && 'req' in value && 'res' in value
}

/**
 * Creates the middleware (mount it first: `app.use(c)`) and the app's runtime. Each ctx gets
 * `ctx.taskGroup`, `ctx.threadpool` and `ctx.backgroundTasks`. The request group lives until the
 * response has really been written (after every middleware returned and Koa wrote the body), not
 * until `await next()` returns. A cancellation that escapes the handlers answers its status
 * (499, or its own, such as 503) and is not printed; once the client is gone it is swallowed.
 * Shutdown: `c.attach(server)`, then `await c.close()` from your SIGTERM handler.
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
  if (isContext(options)) {
    throw new TypeError('It looks like you wrote app.use(concurrency); call it instead: app.use(concurrency())')
  }
  const apps = new Set<Koa<any, any>>()
  // Background failures go to app.emit('error'), Koa's error sink (the runtime's logger until an app was seen).
  const runtime: Runtime = createRuntime(
    withBackgroundErrors(options, (error, task) => {
      if (apps.size === 0) runtime.logger.error({ err: error, task: { id: task.id, name: task.name } }, 'background task failed')
      for (const app of apps) app.emit('error', error)
    }),
  )
  const contexts = new WeakSet<object>()

  const middleware = async function concurrencyMiddleware(ctx: AnyContext, next: Koa.Next): Promise<void> {
    const scoped = ctx as AnyContext & ScopedContext
    if (scoped[kRuntime] !== undefined) return next() // mounted twice: the first one owns the request
    if (!contexts.has(ctx.app.context)) {
      if (!Object.hasOwn(ctx.app.context, 'taskGroup')) Object.defineProperties(ctx.app.context, accessors)
      contexts.add(ctx.app.context)
      apps.add(ctx.app)
    }
    if (runtime.draining) {
      ctx.status = shuttingDownAnswer.status
      ctx.set(shuttingDownAnswer.headers(ctx.req.httpVersionMajor))
      ctx.body = shuttingDownAnswer.body
      return
    }
    scoped[kRuntime] = runtime
    try {
      await next()
    } catch (error) {
      const logger = asLogger(scoped.log) ?? runtime.logger
      const reply = answerCancellation(error, { req: ctx.req, res: ctx.res, group: scoped[kGroup], logger })
      if (reply === undefined) throw error
      // Koa would turn 499 into 500 (it only knows registered statuses) and print errors that are
      // not `expose`d: answer here instead.
      if (reply === 'end') {
        ctx.respond = false
        if (!ctx.res.writableEnded) ctx.res.destroy()
        return
      }
      ctx.status = reply.status
      ctx.type = 'text/plain'
      ctx.body = reply.body
    }
  }

  return withRuntimeHandle(middleware, runtime)
}

/**
 * The options with `onError` as the background tasks' failure handler, unless the caller chose
 * their own (an `onError`, or a `BackgroundTasks`). Anything invalid is passed on untouched, for
 * the runtime to report.
 */
function withBackgroundErrors(
  options: ConcurrencyOptions | undefined,
  onError: NonNullable<BackgroundTasksOptions['onError']>,
): ConcurrencyOptions | undefined {
  if (options !== undefined && (typeof options !== 'object' || options === null || Array.isArray(options))) return options
  const background = options?.backgroundTasks as BackgroundTasksOptions | undefined
  if (background !== undefined && (typeof background !== 'object' || background === null || 'add' in background)) return options
  if (background?.onError !== undefined) return options
  return { ...options, backgroundTasks: { ...background, onError } }
}

export default concurrency
