import type { BackgroundTaskStatus } from './background-task.js'
import type { BackgroundShutdownOptions, BackgroundShutdownReport } from './background-tasks.js'
import type { TaskAddOptions, TaskDefinition } from './define-task.js'

/**
 * What {@link BackgroundRegistry.snapshot} tells about this process's side of a registry: read
 * from memory, at once, whether or not the registry's store answers.
 */
export interface BackgroundSnapshot {
  /** The tasks running in this process now, oldest first. */
  running: { id: string; name: string; status: BackgroundTaskStatus; ageMs: number }[]
  /** How the tasks that ran in this process ended, since the registry was created. */
  outcomes: { fulfilled: number; rejected: number; cancelled: number }
  /** `'unavailable'` while the registry's store (Redis, for a distributed one) cannot be reached. */
  store: 'available' | 'unavailable'
}

/**
 * A task's handle as every registry gives it from `add()`: PromiseLike of the task's result (it
 * rejects with the task's error, or a `CancelledError`), with its id, name, status and `cancel()`.
 * A distributed registry's handle may also be `'queued'`.
 */
export interface BackgroundHandle<R = unknown> extends PromiseLike<R> {
  readonly id: string
  readonly name: string
  readonly status: BackgroundTaskStatus | 'queued'
  /** Cancels the task: a queued one never runs; a running one's signal aborts. */
  cancel(reason?: unknown): void | Promise<void>
}

/** One entry of {@link BackgroundRegistry.list}: the fields every registry gives. */
export interface BackgroundTaskSummary {
  id: string
  name: string
  status: BackgroundTaskStatus | 'queued'
}

/**
 * Everything an app's background registry must offer, whichever engine runs the tasks: the
 * embedded {@link BackgroundTasks} (in this process) or `BullmqBackgroundTasks` from
 * `@taskscope/bullmq` (durable, on many machines). The HTTP runtime, the adapters,
 * `runtime.stats()`, `runtime.inspect()` and the shutdown summary use a registry only through
 * these members, so another engine that implements them works everywhere.
 *
 * What an engine must guarantee: `add` refuses a task once `shutdown()` was called
 * (`ClosedError`); `snapshot()` never throws and never waits (it answers from memory, saying
 * `store: 'unavailable'` when its store cannot be reached); `shutdown({ timeout, grace })` is
 * idempotent and settles within `timeout + grace + 1 s` whatever its store does (the runtime
 * stops waiting for it after that, and reports the tasks still running as abandoned).
 *
 * @example
 * ```ts
 * function enqueueNewsletter(tasks: BackgroundRegistry, list: string) {
 *   return tasks.add(sendNewsletter, { list }, { id: `newsletter-${list}` })
 * }
 * ```
 */
export interface BackgroundRegistry {
  /**
   * Starts (embedded) or enqueues (distributed) a {@link defineTask} task and returns its handle:
   * PromiseLike of its result, with its `id`. Adding an id the registry still knows returns that
   * task's handle instead of starting another. Throws a coded TypeError for data that does not
   * survive JSON, `ClosedError` once shut down.
   */
  add<D, R>(task: TaskDefinition<D, R>, data: D, options?: TaskAddOptions): BackgroundHandle<R>
  /**
   * The tasks not finished yet that the registry can see, as snapshots (`await` works on both
   * kinds): embedded, those running in this process (at once); distributed, those queued or
   * running in any process (a Promise: read from the store).
   */
  list(): readonly BackgroundTaskSummary[] | Promise<readonly BackgroundTaskSummary[]>
  /** Number of tasks running in this process. */
  readonly active: number
  /** True once `shutdown()` was called. */
  readonly closed: boolean
  /** This process's side of the registry, from memory: never throws, never waits. */
  snapshot(): BackgroundSnapshot
  /**
   * Refuses new tasks, drains the running ones up to `timeout`, cancels the rest, waits up to
   * `grace`, and reports. Idempotent. Settles within `timeout + grace + 1 s`, whatever the store does.
   */
  shutdown(options?: BackgroundShutdownOptions): Promise<BackgroundShutdownReport>
}
