// What the Express and Koa middlewares put on the app (`c.threadpool`, `c.close()`…) and on each
// request (`req.taskGroup`, `ctx.threadpool`…), defined once for both.
import type { BackgroundTasks } from '../primitives/background-tasks.js'
import type { Runtime, RuntimeCloseOptions, RuntimeCloseSummary, RuntimeStats } from './runtime.js'
import type { DrainableServer } from './server-drain.js'
import type { TaskGroup } from '../primitives/task-group.js'
import type { Threadpool } from '../threadpool/threadpool.js'

/** The app-level handle on a middleware: the runtime and its shortcuts. */
export interface RuntimeHandle {
  /** The runtime behind it. */
  readonly runtime: Runtime
  /** The app's worker pool (created on first use). */
  readonly threadpool: Threadpool
  /** The app's background tasks. */
  readonly backgroundTasks: BackgroundTasks
  /** What the runtime is doing (see `Runtime.stats`). */
  stats(): RuntimeStats
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
    close: { value: (options?: RuntimeCloseOptions) => runtime.close(options) },
    attach: { value: <S extends DrainableServer>(server: S): S => runtime.attach(server) },
  }) as T & RuntimeHandle
}

/** How {@link requestAccessors} finds things on a framework's request object (`req`, `ctx`). */
export interface RequestAccessorsOptions<T extends object> {
  /** The object's name in error messages: `'req'`, `'ctx'`. */
  name: string
  /** The key under which the middleware stored the runtime on the object. */
  runtime: symbol
  /** The key under which the request's group is kept once created. */
  group: symbol
  /** Creates the request's group (on first read of `taskGroup`). */
  createGroup(this: void, target: T, runtime: Runtime): TaskGroup
}

/**
 * The `taskGroup`, `threadpool` and `backgroundTasks` getters, to define once on a prototype
 * shared by every request (no closure per request). Reading one before the middleware ran throws
 * an Error saying to mount the middleware first.
 *
 * @example
 * ```ts
 * Object.defineProperties(app.context, requestAccessors({ name: 'ctx', runtime: kRuntime, group: kGroup,
 *   createGroup: (ctx, runtime) => runtime.requestGroup(ctx.req, ctx.res) }))
 * ```
 */
export function requestAccessors<T extends object>(options: RequestAccessorsOptions<T>): PropertyDescriptorMap {
  const { name, runtime: runtimeKey, group: groupKey, createGroup } = options
  type Scoped = T & Record<symbol, unknown>
  const runtimeOf = (target: Scoped, property: string): Runtime => {
    const runtime = target[runtimeKey] as Runtime | undefined
    if (runtime !== undefined) return runtime
    throw new Error(`${name}.${property} is only available after the concurrency() middleware ran: mount it first, app.use(concurrency())`)
  }
  return {
    taskGroup: {
      configurable: true,
      get(this: Scoped): TaskGroup {
        const memo = this as Record<symbol, unknown>
        return ((memo[groupKey] as TaskGroup | undefined) ??= createGroup(this, runtimeOf(this, 'taskGroup')))
      },
    },
    threadpool: {
      configurable: true,
      get(this: Scoped): Threadpool {
        return runtimeOf(this, 'threadpool').threadpool
      },
    },
    backgroundTasks: {
      configurable: true,
      get(this: Scoped): BackgroundTasks {
        return runtimeOf(this, 'backgroundTasks').backgroundTasks
      },
    },
  }
}
