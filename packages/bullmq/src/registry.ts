// BullmqBackgroundTasks: the registry's calls on a BullMQ queue. Its parts live next to it:
// options.ts (settings), store.ts (Redis or PostgreSQL: connections, messages), job-events.ts (handles hear how their jobs
// end), job-info.ts (get, list), cancellation.ts (cancel by id), runner.ts (the jobs run here).
import { randomUUID } from 'node:crypto'
import { hostname } from 'node:os'
import {
  type BackgroundRegistry,
  type BackgroundShutdownOptions,
  type BackgroundSnapshot,
  ClosedError,
  type TaskDefinition,
} from '@taskscope/core'
import {
  codedError,
  copyOptions,
  errorCodes,
  invalidType,
  isTaskDefinition,
  validateTaskData,
  validateTimeLimit,
} from '@taskscope/core/adapter'
import { Queue } from 'bullmq'
import { closeAllowanceMs, within } from './bounded.js'
import { cancelJob } from './cancellation.js'
import { JobEvents } from './job-events.js'
import { type BullmqTaskInfo, listJobs, readJob } from './job-info.js'
import {
  type BullmqAddOptions,
  type BullmqBackgroundTasksOptions,
  backoffOption,
  integerOption,
  jobIdOption,
  type RegistrySettings,
  registrySettings,
} from './options.js'
import { Runner, type RunnerReport } from './runner.js'
import { openStore, type Store } from './store.js'
import { type AnyBullmqTask, BullmqTask, type BullmqTaskStatus, kCreate } from './task-handle.js'

/** What {@link BullmqBackgroundTasks.shutdown} found, counting the jobs running in this process when it was called. */
export interface BullmqShutdownReport extends RunnerReport {}

/**
 * The app's background tasks on BullMQ (Redis or PostgreSQL): the calls of the embedded `BackgroundTasks`, but
 * jobs are stored durably and run by any process of the app that defines the task and has
 * `concurrency > 0`. A process killed mid-job leaves the job to another; `job.cancel()` reaches
 * the job wherever it runs; `shutdown()` returns unfinished jobs to the queue. Pass it as the
 * `backgroundTasks` option of `createRuntime` or an adapter.
 *
 * Throws a TypeError/RangeError for invalid options. The store down at start is reported to `onError`
 * (and rejects `ready()` and every add) with code `ERR_QUEUE_UNAVAILABLE`, naming the connection.
 *
 * @example
 * ```ts
 * const backgroundTasks = new BullmqBackgroundTasks({
 *   connection: 'redis://127.0.0.1:6379', // or 'postgres://app:secret@db:5432/app' (BullMQ's schema migrated)
 *   queue: 'app',
 *   tasks: [sendNewsletter],
 *   concurrency: 4,
 * })
 * await app.register(concurrencyPlugin, { backgroundTasks })
 * const job = app.backgroundTasks.add(sendNewsletter, { list: 'weekly' }, { id: 'weekly-48' })
 * ```
 */
export class BullmqBackgroundTasks implements BackgroundRegistry {
  /** The BullMQ queue's name. */
  readonly queueName: string
  readonly #settings: RegistrySettings
  readonly #store: Store
  readonly #queue: Queue
  readonly #events: JobEvents
  readonly #runner: Runner | undefined
  readonly #handles = new Map<string, AnyBullmqTask>()
  readonly #stores = new Map<string, Promise<void>>()
  #shutdown: Promise<BullmqShutdownReport> | undefined

  constructor(options: BullmqBackgroundTasksOptions) {
    const settings = (this.#settings = registrySettings(options))
    const { connection, queue, prefix } = settings
    this.queueName = queue
    // The store came back after a lost connection: handles whose job it no longer holds (a restart
    // without persistence) reject with ERR_JOB_LOST instead of waiting forever.
    const back = (): void => void this.#events.refreshAll((id) => this.#stores.has(id)).catch(this.#store.trouble)
    const store = (this.#store = openStore(connection, queue, prefix, settings.onError, back))
    const trouble = store.trouble
    this.#queue = new Queue(queue, { connection: store.connection, prefix }, store.backend)
    this.#queue.on('error', trouble)
    this.#events = new JobEvents(queue, prefix, store, this.#queue, this.#handles, trouble)
    if (settings.concurrency > 0) {
      this.#runner = new Runner({
        queue,
        prefix,
        store,
        definitions: settings.definitions,
        concurrency: settings.concurrency,
        workerName: `${hostname()}:${process.pid}`,
        lockDuration: settings.lockDuration,
        stalledInterval: settings.stalledInterval,
        maxStalledCount: settings.maxStalledCount,
        failed: (error, task) => settings.onError(error, task),
        trouble,
      })
    }
  }

  /**
   * Stores a {@link defineTask} task's job in the queue and returns its handle at once (status
   * `'queued'`); any process that defines the task runs it. Adding an `id` this process still
   * tracks returns the same handle; an `id` that exists in the queue returns that job (idempotent).
   *
   * Throws {@link ClosedError} once `shutdown()` was called; a TypeError with code
   * `ERR_TASK_NOT_DEFINED` for a function or a promise (closures cannot travel: use defineTask),
   * `ERR_TASK_DATA_NOT_JSON` when `data` does not survive JSON, `ERR_INVALID_ARG_*` for bad options.
   * When the job cannot be stored (the store unreachable), the handle rejects with that error.
   *
   * @example
   * ```ts
   * const job = backgroundTasks.add(sendNewsletter, { list: 'weekly' }, { id: 'weekly-48', attempts: 3, backoff: 1000 })
   * ```
   */
  add<D, R>(task: TaskDefinition<D, R>, data: D, options?: BullmqAddOptions): BullmqTask<R> {
    if (this.#shutdown !== undefined) throw new ClosedError('Background tasks are shutting down: no new task is accepted')
    if (!isTaskDefinition(task)) {
      const what = typeof task === 'function' ? `function ${(task as { name?: string }).name || '(anonymous)'}` : typeof task
      throw codedError(
        TypeError,
        errorCodes.taskNotDefined,
        `The "task" argument must be a defineTask() task: a distributed registry stores jobs as a name and JSON data, so a closure or a promise cannot travel. Received ${what}`,
      )
    }
    // What is stored is what was checked (a getter read twice could answer differently).
    const json = JSON.stringify(validateTaskData(data, 'The "data" argument'))
    const opts = copyOptions(options, 'The add options')
    const id = jobIdOption(opts.id) ?? randomUUID()
    const attempts = integerOption(opts.attempts, 'The "attempts" option', 1)
    const backoff = backoffOption(opts.backoff)
    const known = this.#handles.get(id)
    if (known !== undefined) return known
    const handle = BullmqTask[kCreate]<R>(id, task.name, 'queued', this.#cancel)
    this.#handles.set(id, handle)
    const store = this.#storeJob(handle, JSON.parse(json), { attempts, backoff })
    this.#stores.set(id, store)
    store.then(
      () => this.#stores.delete(id),
      (error) => {
        this.#stores.delete(id)
        this.#events.fail(handle, error)
        this.#store.trouble(error)
      },
    )
    return handle
  }

  /** Number of jobs running in this process. */
  get active(): number {
    return this.#runner?.active ?? 0
  }

  /** True once `shutdown()` was called. */
  get closed(): boolean {
    return this.#shutdown !== undefined
  }

  /**
   * This process's side of the queue, from memory (no round trip to the store, never throws): the
   * jobs running here, how the jobs that ran here ended, and whether the store answers (`store`).
   * What `runtime.stats()` and `runtime.inspect()` show; `list()` reads every process's jobs.
   *
   * @example
   * ```ts
   * const { running, store } = backgroundTasks.snapshot() // store: 'unavailable' while Redis or PostgreSQL is away
   * ```
   */
  snapshot(): BackgroundSnapshot {
    const outcomes = this.#runner === undefined ? { fulfilled: 0, rejected: 0, cancelled: 0 } : { ...this.#runner.outcomes }
    return { running: this.#runner?.running() ?? [], outcomes, store: this.#store.ready ? 'available' : 'unavailable' }
  }

  /**
   * Resolves once the store (Redis or PostgreSQL) answers and this process's worker is
   * connected; rejects with code `ERR_QUEUE_UNAVAILABLE`, naming the store (never its password),
   * when it cannot be reached.
   *
   * @example
   * ```ts
   * await backgroundTasks.ready() // fail fast at boot when the store is down
   * ```
   */
  async ready(): Promise<void> {
    await this.#store.connected()
    // BullMQ's own first connection (on PostgreSQL: its schema check) done too.
    await this.#queue.waitUntilReady().catch((error) => {
      throw this.#store.unavailable(error)
    })
    await this.#runner?.ready()
  }

  /**
   * The job with this id, read from the queue (so from any process): its name, status, timestamps,
   * and once finished its result or error; undefined when the queue does not hold it (never
   * added, cancelled before it ran, or removed after `keep`). A snapshot, not a handle: a handle
   * is PromiseLike, so `await` would wait for the job instead (add the same `id` again for one).
   *
   * @example
   * ```ts
   * const info = await backgroundTasks.get('weekly-48') // { id, name, status: 'running', ... }
   * ```
   */
  async get(id: string): Promise<BullmqTaskInfo | undefined> {
    if (typeof id !== 'string') throw invalidType('The "id" argument', 'a string', id)
    await this.#store.connected()
    return readJob(this.#queue, id).catch(this.#store.failure)
  }

  /**
   * The jobs in the queue, from every process: by default the queued and running ones (at most
   * `limit`, 1000 by default, per status), with names, statuses and timestamps.
   *
   * @example
   * ```ts
   * const failed = await backgroundTasks.list({ status: ['rejected'], limit: 50 })
   * ```
   */
  async list(options?: { status?: readonly BullmqTaskStatus[]; limit?: number }): Promise<BullmqTaskInfo[]> {
    const opts = copyOptions(options, 'The list options')
    const limit = integerOption(opts.limit, 'The "limit" option', 1) ?? 1000
    const statuses = opts.status ?? ['queued', 'running']
    await this.#store.connected()
    return listJobs(this.#queue, statuses, limit).catch(this.#store.failure)
  }

  /**
   * Stops taking jobs, waits up to `timeout` (5000 ms by default) for the jobs running here, then
   * aborts their signals with `ShutdownError`: those that end cancelled go back to the queue for
   * another process (`requeued`). After `grace` (1000 ms), what still runs is `abandoned` to
   * BullMQ's stalled-job recovery (it runs again elsewhere once its lock expires). Then closes
   * every connection to the store. Idempotent; from the call on, `add()` throws {@link ClosedError}.
   *
   * @example
   * ```ts
   * process.once('SIGTERM', async () => { console.log(await backgroundTasks.shutdown({ timeout: 10_000 })) })
   * ```
   */
  shutdown(options?: BackgroundShutdownOptions): Promise<BullmqShutdownReport> {
    if (this.#shutdown !== undefined) return this.#shutdown
    const opts = copyOptions(options, 'The shutdown options')
    const timeout = validateTimeLimit(opts.timeout, 'The "timeout" option') ?? 5000
    const grace = validateTimeLimit(opts.grace, 'The "grace" option') ?? 1000
    this.#store.closing()
    return (this.#shutdown = this.#close(timeout, grace))
  }

  /** `await using tasks = new BullmqBackgroundTasks(...)` shuts down with the defaults at the end of the block. */
  async [Symbol.asyncDispose](): Promise<void> {
    await this.shutdown()
  }

  async #close(timeout: number, grace: number): Promise<BullmqShutdownReport> {
    let closeBy = Infinity // set once the jobs are handed back: then closing has closeAllowanceMs
    const deadline = (): number => closeBy
    const jobsDone = this.#runner?.shutdown(timeout, grace, () => {
      closeBy = Math.min(closeBy, Date.now() + closeAllowanceMs)
      return closeBy
    })
    const report = (await jobsDone) ?? { completed: 0, failed: 0, cancelled: 0, abandoned: 0, requeued: 0 }
    closeBy = Math.min(closeBy, Date.now() + closeAllowanceMs)
    const left = (): number => deadline() - Date.now()
    const trouble = this.#store.trouble
    // Adds already under way finish (or fail) before the connections close: a job is never half-added.
    await within(Promise.allSettled(this.#stores.values()), left())
    const away = !this.#store.ready // then closing politely would wait for the store to come back
    await this.#events.close(away, deadline)
    // Bounded: with the store away or frozen, BullMQ's close waits for a connection that never answers.
    if (!(await within(this.#queue.close(), left(), trouble))) this.#queue.disconnect().catch(trouble)
    await this.#store.close(away, left())
    return report
  }

  async #storeJob(handle: AnyBullmqTask, data: unknown, options: Pick<BullmqAddOptions, 'attempts' | 'backoff'>): Promise<void> {
    await this.#store.connected()
    // Listen first: the job's events cannot be missed, however fast another process runs it.
    await this.#events.subscribed()
    await this.#queue
      .add(handle.name, data, {
        jobId: handle.id,
        ...(options.attempts === undefined ? {} : { attempts: options.attempts }),
        ...(options.backoff === undefined ? {} : { backoff: options.backoff }),
        removeOnComplete: { count: this.#settings.keep.completed },
        removeOnFail: { count: this.#settings.keep.failed },
      })
      .catch(this.#store.failure)
  }

  /**
   * Cancels the job with this id, from any process (no handle needed): a queued job is removed and
   * never runs; a running job's signal aborts in the process running it, and it ends
   * `'cancelled'`, not retried. Resolves once the request is delivered; does nothing for a finished
   * or unknown job. Rejects when the store cannot be reached.
   *
   * @example
   * ```ts
   * app.post('/jobs/:id/cancel', async (request, reply) => {
   *   await backgroundTasks.cancel(request.params.id, 'cancelled by the user')
   *   return reply.code(202).send({ id: request.params.id })
   * })
   * ```
   */
  async cancel(id: string, reason?: unknown): Promise<void> {
    if (typeof id !== 'string') throw invalidType('The "id" argument', 'a string', id)
    await this.#cancelJob(id, reason)
  }

  #cancel = (handle: AnyBullmqTask, reason: unknown): Promise<void> => this.#cancelJob(handle.id, reason)

  async #cancelJob(id: string, reason: unknown): Promise<void> {
    await this.#stores.get(id)
    await this.#store.connected()
    const outcome = await cancelJob(this.#queue, this.#store, id, reason).catch(this.#store.failure)
    if (outcome === 'removed') this.#events.removed(id)
  }
}
