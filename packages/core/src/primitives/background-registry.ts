// `BackgroundRegistry`: what the runtime needs of a background registry (in-process or distributed).
import type { BackgroundShutdownOptions, BackgroundShutdownReport } from './background-tasks.js'
import type { TaskAddOptions, TaskDefinition } from './define-task.js'

/**
 * What an app's background registry offers, whichever engine runs the tasks: the embedded
 * {@link BackgroundTasks} (in this process) or `BullmqBackgroundTasks` from `@taskscope/bullmq`
 * (durable, on many machines). The HTTP runtime and the adapters need only this.
 *
 * @example
 * ```ts
 * function enqueueNewsletter(tasks: BackgroundRegistry, list: string) {
 *   return tasks.add(sendNewsletter, { list }, { id: `newsletter-${list}` })
 * }
 * ```
 */
export interface BackgroundRegistry {
  /** Starts (embedded) or enqueues (distributed) a {@link defineTask} task; returns its handle. */
  add<D, R>(task: TaskDefinition<D, R>, data: D, options?: TaskAddOptions): PromiseLike<R> & { readonly id: string }
  /** Number of tasks running in this process. */
  readonly active: number
  /** Refuses new tasks, drains the running ones up to `timeout`, cancels the rest, and reports. Idempotent. */
  shutdown(options?: BackgroundShutdownOptions): Promise<BackgroundShutdownReport>
}
