// The app's runtime as a Nest provider: one class to inject for stats, inspect and shutdown.
import type {
  BackgroundTasks,
  Runtime,
  RuntimeCloseOptions,
  RuntimeCloseSummary,
  RuntimeInspection,
  RuntimeStats,
  Threadpool,
} from '@taskscope/core'
import { codedError, errorCodes, type RuntimeHandle } from '@taskscope/core/adapter'
import { kToken } from './symbols.js'

/**
 * The app's taskscope runtime, injectable by its class: `stats()` and `inspect()` for a health or
 * debug endpoint, the pool and the background tasks. Its shutdown runs on `app.close()`; call
 * `close()` yourself only outside Nest's lifecycle. Made by `TaskscopeModule`, not by you
 * (the constructor throws a TypeError).
 *
 * @example
 * ```ts
 * @Controller('debug')
 * export class DebugController {
 *   constructor(@Inject(TaskscopeRuntime) private readonly taskscope: TaskscopeRuntime) {}
 *   @Get('tasks') tasks() { return this.taskscope.inspect() }
 *   @Get('stats') stats() { return this.taskscope.stats() }
 * }
 * ```
 */
export class TaskscopeRuntime implements Omit<RuntimeHandle, 'attach'> {
  /** The runtime behind it (the one `@taskscope/express` or `@taskscope/fastify` installed). */
  readonly runtime: Runtime

  /** @internal */
  constructor(token: typeof kToken, runtime: Runtime) {
    if (token !== kToken) {
      throw codedError(TypeError, errorCodes.illegalConstructor, 'Illegal constructor: inject TaskscopeRuntime (TaskscopeModule makes it)')
    }
    this.runtime = runtime
  }

  /** The app's worker pool, started on first read. */
  get threadpool(): Threadpool {
    return this.runtime.threadpool
  }

  /** The app's background tasks (the registry configured, e.g. a `BullmqBackgroundTasks`). */
  get backgroundTasks(): BackgroundTasks {
    return this.runtime.backgroundTasks
  }

  /** True once shutdown began. */
  get draining(): boolean {
    return this.runtime.draining
  }

  /** What the runtime is doing, with totals since start (requests, background tasks, pool, event loop). */
  stats(): RuntimeStats {
    return this.runtime.stats()
  }

  /** The live tree, as plain JSON: each request group alive with its tasks, and each background task. */
  inspect(): RuntimeInspection {
    return this.runtime.inspect()
  }

  /** The bounded shutdown (what `app.close()` runs); idempotent: every call returns the same promise. */
  close(options?: RuntimeCloseOptions): Promise<RuntimeCloseSummary> {
    return this.runtime.close(options)
  }
}
