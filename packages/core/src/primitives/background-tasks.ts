import { BackgroundTask, type BackgroundTaskOptions, type BackgroundTaskStatus, backgroundTaskName } from './background-task.js'
import { ClosedError, ShutdownError } from '../errors.js'
import { copyOptions, validateDuration, validateFunction } from '../internal/validation.js'
import type { Work } from '../internal/run-work.js'
import { invalidTaskId, isTaskDefinition, jsonCopy, type TaskAddOptions, type TaskDefinition, validateTaskData } from './define-task.js'
import { kCreate, kObserved, kWhenSettled } from '../internal/symbols.js'

/** Options of {@link BackgroundTasks}. */
export interface BackgroundTasksOptions {
  /**
   * Called with each failure that nobody observed (by awaiting the task) when it happened.
   * Default: `console.error`. The adapters pass the framework's logger.
   */
  onError?: (error: unknown, task: BackgroundTask) => void
}

/** One entry of {@link BackgroundTasks.list}. */
export interface BackgroundTaskInfo {
  id: string
  name: string
  status: BackgroundTaskStatus
  startedAt: Date
  durationMs: number
}

/** Options of {@link BackgroundTasks.shutdown}. */
export interface BackgroundShutdownOptions {
  /** How long running tasks may take to finish before they are cancelled (Infinity: no limit). Default: 5000 ms. */
  timeout?: number
  /** How long cancelled tasks get to settle before they are reported abandoned (Infinity: no limit). Default: 1000 ms. */
  grace?: number
}

/** What {@link BackgroundTasks.shutdown} found, counting the tasks running when it was called. */
export interface BackgroundShutdownReport {
  /** Finished with a value. */
  completed: number
  /** Failed (each also went to `onError`). */
  failed: number
  /** Ended cancelled (by shutdown or otherwise). */
  cancelled: number
  /** Still running after the grace period. */
  abandoned: number
}

const defaultOnError = (error: unknown, task: BackgroundTask): void => {
  console.error(`taskscope: background task "${task.name}" (${task.id}) failed:`, error)
}

/**
 * The app-lifetime registry of background tasks (the seed's `app._background_tasks`, done right):
 * tasks start at once, never tied to a request; failures go to `onError`, never to an unhandled
 * rejection; finished tasks leave the registry; `shutdown()` drains, then cancels the rest.
 *
 * Throws a TypeError for invalid options.
 *
 * @example
 * ```ts
 * const tasks = new BackgroundTasks({ onError: (err, task) => log.error({ err, task: task.name }) })
 * const job = tasks.add((signal) => rebuildIndex({ signal }), { name: 'reindex' })
 * // on SIGTERM:
 * const report = await tasks.shutdown({ timeout: 5_000 })
 * ```
 */
export class BackgroundTasks implements AsyncDisposable {
  #tasks = new Map<string, BackgroundTask>()
  #onError: (error: unknown, task: BackgroundTask) => void
  #shutdown: Promise<BackgroundShutdownReport> | undefined

  constructor(options?: BackgroundTasksOptions) {
    const opts = copyOptions(options, 'The BackgroundTasks options')
    this.#onError =
      opts.onError === undefined ? defaultOnError : validateFunction(opts.onError, 'The "onError" option')
  }

  /**
   * Runs a {@link defineTask} task now, in this process, with a JSON copy of `data` (what it would
   * get in another process), named after the task. Adding an `id` that is still known returns the
   * existing task instead of starting another. Throws {@link ClosedError} once `shutdown()` was
   * called; a TypeError when `data` does not survive JSON (code `ERR_TASK_DATA_NOT_JSON`) or `id`
   * is not a non-empty string.
   *
   * @example
   * ```ts
   * const job = tasks.add(sendNewsletter, { list: 'weekly' }, { id: 'weekly-48' })
   * tasks.add(sendNewsletter, { list: 'weekly' }, { id: 'weekly-48' }) === job // true while it runs
   * ```
   */
  add<D, R>(task: TaskDefinition<D, R>, data: D, options?: TaskAddOptions): BackgroundTask<R>
  /**
   * Starts `work` now (a function called with the task's own AbortSignal, or a promise) and tracks
   * it until it settles. Throws {@link ClosedError} once `shutdown()` was called; a TypeError when
   * `work` is neither a function nor a promise.
   */
  add<T>(work: Work<T>, options?: BackgroundTaskOptions): BackgroundTask<Awaited<T>>
  add(work: Work<unknown> | TaskDefinition, ...rest: unknown[]): BackgroundTask {
    if (this.#shutdown !== undefined) throw new ClosedError('Background tasks are shutting down: no new task is accepted')
    if (isTaskDefinition(work)) return this.#addDefined(work, rest[0], rest[1] as TaskAddOptions | undefined)
    const options = rest[0] as BackgroundTaskOptions | undefined
    const task = BackgroundTask[kCreate](work, backgroundTaskName(work, options), this.#settled)
    if (task.status === 'running') this.#tasks.set(task.id, task)
    return task
  }

  #addDefined(definition: TaskDefinition, data: unknown, options: TaskAddOptions | undefined): BackgroundTask {
    const { id } = copyOptions(options, 'The add options')
    if (id !== undefined && (typeof id !== 'string' || id === '')) throw invalidTaskId(id)
    const copy = jsonCopy(validateTaskData(data, 'The "data" argument'))
    const existing = id === undefined ? undefined : this.get(id)
    if (existing !== undefined) return existing
    const task = BackgroundTask[kCreate]((signal) => definition.fn(copy, signal), definition.name, this.#settled, id)
    if (task.status === 'running') this.#tasks.set(task.id, task)
    return task
  }

  /** Number of tasks running. */
  get active(): number {
    return this.#tasks.size
  }

  /** True once `shutdown()` was called. */
  get closed(): boolean {
    return this.#shutdown !== undefined
  }

  /** A snapshot of the running tasks. */
  list(): BackgroundTaskInfo[] {
    return [...this.#tasks.values()].map(({ id, name, status, startedAt, durationMs }) => ({
      id,
      name,
      status,
      startedAt,
      durationMs,
    }))
  }

  /** The running task with this id, if any. */
  get(id: string): BackgroundTask | undefined {
    return this.#tasks.get(id)
  }

  /**
   * Refuses new tasks from now on, waits up to `timeout` for the running ones, cancels the rest
   * with {@link ShutdownError}, waits up to `grace` for them to settle, and reports. Idempotent: a
   * second call returns the same promise. Throws a RangeError/TypeError for invalid options.
   */
  shutdown(options?: BackgroundShutdownOptions): Promise<BackgroundShutdownReport> {
    if (this.#shutdown !== undefined) return this.#shutdown
    const opts = copyOptions(options, 'The shutdown options')
    // Infinity means "as long as it takes" (validateDuration reads it as "no timer").
    const timeout = opts.timeout === Infinity ? Infinity : (validateDuration(opts.timeout, 'The "timeout" option') ?? 5000)
    const grace = opts.grace === Infinity ? Infinity : (validateDuration(opts.grace, 'The "grace" option') ?? 1000)
    return (this.#shutdown = this.#drain(timeout, grace))
  }

  /** `await using tasks = new BackgroundTasks()` shuts down with the defaults at the end of the block. */
  async [Symbol.asyncDispose](): Promise<void> {
    await this.shutdown()
  }

  async #drain(timeout: number, grace: number): Promise<BackgroundShutdownReport> {
    const tasks = [...this.#tasks.values()]
    await settledWithin(tasks, timeout)
    for (const task of tasks) task.cancel(new ShutdownError())
    await settledWithin(tasks, grace)
    const report: BackgroundShutdownReport = { completed: 0, failed: 0, cancelled: 0, abandoned: 0 }
    for (const { status } of tasks) {
      if (status === 'fulfilled') report.completed++
      else if (status === 'rejected') report.failed++
      else if (status === 'cancelled') report.cancelled++
      else report.abandoned++
    }
    return report
  }

  #settled = (task: BackgroundTask): void => {
    this.#tasks.delete(task.id)
    if (task.status !== 'rejected' || task[kObserved]) return
    try {
      this.#onError(task.error, task)
    } catch (hookError) {
      // The hook itself failed: say so rather than lose both errors.
      defaultOnError(new AggregateError([task.error, hookError], 'The onError hook threw'), task)
    }
  }
}

/** Resolves when every task has settled or `ms` passed, whichever is first. */
async function settledWithin(tasks: BackgroundTask[], ms: number): Promise<void> {
  const pending = tasks.filter((task) => task.status === 'running')
  if (pending.length === 0) return
  let timer: NodeJS.Timeout | undefined
  try {
    await Promise.race([
      Promise.all(pending.map((task) => task[kWhenSettled]())),
      new Promise<void>((resolve) => {
        if (ms !== Infinity) timer = setTimeout(resolve, ms)
      }),
    ])
  } finally {
    clearTimeout(timer)
  }
}
