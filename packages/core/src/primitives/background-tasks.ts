import { ClosedError, ShutdownError } from '../errors.js'
import type { Work } from '../internal/run-work.js'
import { kCreate, kObserved, kWhenSettled } from '../internal/symbols.js'
import { copyOptions, outOfRange, validateDuration, validateFunction, validateInteger } from '../internal/validation.js'
import type { BackgroundRegistry, BackgroundSnapshot } from './background-registry.js'
import { BackgroundTask, type BackgroundTaskOptions, type BackgroundTaskStatus, backgroundTaskName } from './background-task.js'
import { invalidTaskId, isTaskDefinition, jsonCopy, type TaskAddOptions, type TaskDefinition, validateTaskData } from './define-task.js'

/** Options of {@link BackgroundTasks}. */
export interface BackgroundTasksOptions {
  /**
   * Called with each failure that nobody observed (by awaiting the task) when it happened.
   * Default: `console.error`. The adapters pass the framework's logger.
   */
  onError?: (error: unknown, task: BackgroundTask) => void
  /**
   * How many finished tasks `get(id)` still finds, the oldest forgotten first (so a job-status
   * route needs no Map of its own). A finished task keeps its value or error, so lower this when
   * results are large; 0 forgets a task as soon as it settles. An integer from 0 to 1,000,000.
   * Default: 1000.
   */
  history?: number
}

/** Default of {@link BackgroundTasksOptions.history}. */
const defaultHistory = 1000
const maxHistory = 1_000_000

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
 * The app-lifetime registry of background tasks (Nexios' `app._background_tasks`, done right):
 * tasks start at once, never tied to a request; failures go to `onError`, never to an unhandled
 * rejection; finished tasks leave the registry, and `get(id)` still finds the last `history` of
 * them (memory stays bounded); `shutdown()` drains, then cancels the rest.
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
export class BackgroundTasks implements BackgroundRegistry, AsyncDisposable {
  #tasks = new Map<string, BackgroundTask>()
  // Finished tasks in the order they settled (a Map keeps insertion order): the oldest goes first.
  #finished = new Map<string, BackgroundTask>()
  #history: number
  #onError: (error: unknown, task: BackgroundTask) => void
  #shutdown: Promise<BackgroundShutdownReport> | undefined
  #outcomes = { fulfilled: 0, rejected: 0, cancelled: 0 }

  constructor(options?: BackgroundTasksOptions) {
    const opts = copyOptions(options, 'The BackgroundTasks options')
    this.#onError = opts.onError === undefined ? defaultOnError : validateFunction(opts.onError, 'The "onError" option')
    const history = validateInteger(opts.history, 'The "history" option', 0)
    if (history !== undefined && history > maxHistory)
      throw outOfRange('The "history" option', `an integer from 0 to ${maxHistory}`, history)
    this.#history = history ?? defaultHistory
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
    return this.#track(BackgroundTask[kCreate](work, backgroundTaskName(work, options), this.#settled))
  }

  #addDefined(definition: TaskDefinition, data: unknown, options: TaskAddOptions | undefined): BackgroundTask {
    const { id } = copyOptions(options, 'The add options')
    if (id !== undefined && (typeof id !== 'string' || id === '')) throw invalidTaskId(id)
    const copy = jsonCopy(validateTaskData(data, 'The "data" argument'))
    const existing = id === undefined ? undefined : this.get(id)
    if (existing !== undefined) return existing
    return this.#track(BackgroundTask[kCreate]((signal) => definition.fn(copy, signal), definition.name, this.#settled, id))
  }

  #track(task: BackgroundTask): BackgroundTask {
    if (task.status === 'running') this.#tasks.set(task.id, task)
    else this.#remember(task) // settled synchronously: #settled ran before the task was registered
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

  /**
   * A snapshot of the running tasks (finished ones are not listed: look one up with `get(id)`).
   *
   * @example
   * ```ts
   * app.get('/admin/jobs', () => tasks.list())
   * ```
   */
  list(): BackgroundTaskInfo[] {
    return [...this.#tasks.values()].map(({ id, name, status, startedAt, durationMs }) => ({
      id,
      name,
      status,
      startedAt,
      durationMs,
    }))
  }

  /**
   * The task with this id: a running one, or one of the last `history` finished ones (check its
   * `status`, `error`, or await it for its value); `undefined` for an id it does not know (any more).
   *
   * @example
   * ```ts
   * app.get('/jobs/:id', (req, reply) => {
   *   const job = tasks.get(req.params.id)
   *   if (job === undefined) return reply.code(404).send()
   *   return { status: job.status }
   * })
   * ```
   */
  get(id: string): BackgroundTask | undefined {
    return this.#tasks.get(id) ?? this.#finished.get(id)
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

  #remember(task: BackgroundTask): void {
    if (this.#history === 0) return
    this.#finished.set(task.id, task)
    if (this.#finished.size > this.#history) this.#finished.delete(this.#finished.keys().next().value!)
  }

  /**
   * The running tasks (with their age) and how many ended, by outcome, since the registry was
   * created: what `runtime.stats()` and `runtime.inspect()` show. Never throws.
   *
   * @example
   * ```ts
   * const { running, outcomes } = tasks.snapshot() // outcomes: { fulfilled, rejected, cancelled }
   * ```
   */
  snapshot(): BackgroundSnapshot {
    const running = [...this.#tasks.values()].map(({ id, name, status, durationMs }) => ({
      id,
      name,
      status,
      ageMs: Math.round(durationMs),
    }))
    return { running, outcomes: { ...this.#outcomes }, store: 'available' }
  }

  #settled = (task: BackgroundTask): void => {
    if (task.status !== 'running') this.#outcomes[task.status]++
    if (this.#tasks.delete(task.id)) this.#remember(task)
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
