// The app-level handle that the Express and Koa middlewares carry (`c.threadpool`, `c.close()`…),
// defined once for both.
import type { BackgroundTasks } from './background-tasks.js'
import type { Runtime, RuntimeCloseOptions, RuntimeCloseSummary, RuntimeStats } from './runtime.js'
import type { DrainableServer } from './server-drain.js'
import type { Threadpool } from './threadpool.js'

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
