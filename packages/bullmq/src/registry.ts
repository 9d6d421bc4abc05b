import { randomUUID } from 'node:crypto'
import { hostname } from 'node:os'
import {
  type BackgroundRegistry,
  type BackgroundShutdownOptions,
  ClosedError,
  type TaskDefinition,
} from '@taskscope/core'
import { codedError, errorCodes, isTaskDefinition, validateTaskData } from '@taskscope/core/adapter'
import { type Job, type JobType, Queue } from 'bullmq'
import type { Redis } from 'ioredis'
import {
  closeClient,
  firstConnection,
  isConnectionError,
  type RedisConnection,
  type ResolvedConnection,
  resolveConnection,
} from './connection.js'
import { JobEvents } from './job-events.js'
import {
  backoffOption,
  type BullmqAddOptions,
  copyOptions,
  definitionsOption,
  integerOption,
  invalidType,
  jobIdOption,
  stringOption,
} from './options.js'
import { cancelChannel, Runner, type RunnerReport } from './runner.js'
import { cancelledMark, fromLogLines, fromWire } from './wire.js'
import { BullmqTask, type BullmqTaskStatus, kToken } from './task-handle.js'

/** Options of {@link BullmqBackgroundTasks}. */
export interface BullmqBackgroundTasksOptions {
  /** Where Redis is: a `redis://` URL or ioredis options. Every process of the app uses the same. */
  connection: RedisConnection
  /** The BullMQ queue's name, shared by every process of the app. Default: `'taskscope'`. */
  queue?: string
  /** BullMQ's key prefix. Default: `'bull'`. */
  prefix?: string
  /** The tasks this process can run (and read back by name). Default: none. */
  tasks?: readonly TaskDefinition[]
  /** Jobs this process runs at once; 0: it only adds and reads. Default: 1 when `tasks` is not empty, else 0. */
  concurrency?: number
  /**
   * Called in the process that ran a job with each failed attempt, and with Redis trouble (a lost
   * connection, Redis down at start) with `task` undefined. Default: `console.error`.
   */
  onError?: (error: unknown, task: { id: string; name: string } | undefined) => void
  /** BullMQ's `lockDuration` (ms): a running job whose process stops renewing its lock this long is stalled. Default: 30000. */
  lockDuration?: number
  /** BullMQ's `stalledInterval` (ms): how often stalled jobs are looked for and returned to the queue. Default: 30000. */
  stalledInterval?: number
  /** BullMQ's `maxStalledCount`: how many times a job may stall before it fails. Default: 1. */
  maxStalledCount?: number
  /** Finished jobs kept in Redis for `get()` (BullMQ's `removeOnComplete` / `removeOnFail` counts). Default: 1000 / 5000. */
  keep?: { completed?: number; failed?: number }
}

/** One entry of {@link BullmqBackgroundTasks.list}. */
export interface BullmqTaskInfo {
  id: string
  name: string
  status: BullmqTaskStatus
  /** When it was added. */
  addedAt: Date
  /** When its current (or last) attempt started. */
  startedAt: Date | undefined
  /** When it finished. */
  finishedAt: Date | undefined
  /** Attempts made so far. */
  attempts: number
  /** The worker (`host:pid`) running it or that ran it last. */
  processedBy: string | undefined
  /** From `get()`: the result of a fulfilled job. */
  result?: unknown
  /** From `get()`: the error of a rejected or cancelled job (with `name`, `message`, `code`). */
  error?: Error
}

/** What {@link BullmqBackgroundTasks.shutdown} found, counting the jobs running in this process when it was called. */
export interface BullmqShutdownReport extends RunnerReport {}

const defaultOnError: NonNullable<BullmqBackgroundTasksOptions['onError']> = (error, task) => {
  const what = task === undefined ? 'the background queue' : `background task "${task.name}" (${task.id})`
  console.error(`taskscope: ${what} failed:`, error)
}

const queuedTypes: JobType[] = ['waiting', 'delayed', 'prioritized', 'waiting-children']

/**
 * The app's background tasks on BullMQ (Redis): the calls of the embedded `BackgroundTasks`, but
 * jobs are stored durably and run by any process of the app that defines the task and has
 * `concurrency > 0`. A process killed mid-job leaves the job to another; `job.cancel()` reaches
 * the job wherever it runs; `shutdown()` returns unfinished jobs to the queue. Pass it as the
 * `backgroundTasks` option of `createRuntime` or an adapter.
 *
 * Throws a TypeError/RangeError for invalid options. Redis down at start is reported to `onError`
 * (and rejects `ready()` and every add) with code `ERR_QUEUE_UNAVAILABLE`, naming the connection.
 *
 * @example
 * ```ts
 * const backgroundTasks = new BullmqBackgroundTasks({
 *   connection: 'redis://127.0.0.1:6379',
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
  readonly #connection: ResolvedConnection
  readonly #prefix: string
  readonly #definitions: Map<string, TaskDefinition>
  readonly #onError: NonNullable<BullmqBackgroundTasksOptions['onError']>
  readonly #keep: { completed: number; failed: number }
  readonly #control: Redis
  readonly #queue: Queue
  readonly #events: JobEvents
  readonly #runner: Runner | undefined
  readonly #handles = new Map<string, BullmqTask<any>>()
  readonly #stores = new Map<string, Promise<void>>()
  #start!: Promise<void>
  #startFailed = false
  #troubleSeen = new Set<string>()
  #shutdown: Promise<BullmqShutdownReport> | undefined

  constructor(options: BullmqBackgroundTasksOptions) {
    if (options === undefined) throw invalidType('The BullmqBackgroundTasks options', 'an object with a "connection"', options)
    const opts = copyOptions(options, 'The BullmqBackgroundTasks options')
    this.#connection = resolveConnection(opts.connection)
    this.queueName = stringOption(opts.queue, 'The "queue" option') ?? 'taskscope'
    this.#prefix = stringOption(opts.prefix, 'The "prefix" option') ?? 'bull'
    this.#definitions = definitionsOption(opts.tasks)
    const concurrency = integerOption(opts.concurrency, 'The "concurrency" option', 0) ?? (this.#definitions.size > 0 ? 1 : 0)
    if (opts.onError !== undefined && typeof opts.onError !== 'function') throw invalidType('The "onError" option', 'a function', opts.onError)
    this.#onError = opts.onError ?? defaultOnError
    const keep = copyOptions(opts.keep, 'The "keep" option')
    this.#keep = {
      completed: integerOption(keep.completed, 'The "keep.completed" option', 0) ?? 1000,
      failed: integerOption(keep.failed, 'The "keep.failed" option', 0) ?? 5000,
    }
    const lockDuration = integerOption(opts.lockDuration, 'The "lockDuration" option', 1)
    const stalledInterval = integerOption(opts.stalledInterval, 'The "stalledInterval" option', 1)
    const maxStalledCount = integerOption(opts.maxStalledCount, 'The "maxStalledCount" option', 0)

    this.#control = this.#connection.create()
    this.#control.on('error', this.#trouble)
    let connected = false
    this.#control.on('ready', () => {
      connected = true
      this.#troubleSeen.clear()
    })
    this.#control.on('close', () => {
      if (!connected || this.#shutdown !== undefined) return
      connected = false
      const message = `Lost the connection to Redis at ${this.#connection.label} (background queue "${this.queueName}"): reconnecting; jobs stay in Redis`
      this.#trouble(codedError(Error, errorCodes.queueUnavailable, message))
    })
    this.#start = this.#connected()
    this.#start.catch(this.#trouble)
    const connection = this.#connection.options
    this.#queue = new Queue(this.queueName, { connection, prefix: this.#prefix })
    this.#queue.on('error', this.#trouble)
    this.#events = new JobEvents(this.queueName, this.#prefix, connection, this.#control, this.#handles, this.#trouble)
    this.#events.reader = this.#queue
    if (concurrency > 0) {
      this.#runner = new Runner({
        queue: this.queueName,
        prefix: this.#prefix,
        connection: this.#connection,
        definitions: this.#definitions,
        concurrency,
        workerName: `${hostname()}:${process.pid}`,
        lockDuration,
        stalledInterval,
        maxStalledCount,
        failed: (error, task) => this.#onError(error, task),
        trouble: this.#trouble,
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
   * When the job cannot be stored (Redis unreachable), the handle rejects with that error.
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
    validateTaskData(data, 'The "data" argument')
    const opts = copyOptions(options, 'The add options')
    const id = jobIdOption(opts.id) ?? randomUUID()
    const attempts = integerOption(opts.attempts, 'The "attempts" option', 1)
    const backoff = backoffOption(opts.backoff)
    const known = this.#handles.get(id)
    if (known !== undefined) return known
    const handle = new BullmqTask<R>(kToken, id, task.name, 'queued', this.#cancel)
    this.#handles.set(id, handle)
    const store = this.#store(handle, data, { attempts, backoff })
    this.#stores.set(id, store)
    store.then(
      () => this.#stores.delete(id),
      (error) => {
        this.#stores.delete(id)
        this.#events.fail(handle, error)
        this.#trouble(error)
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
   * Resolves once Redis answers (and this process's worker is connected); rejects with code
   * `ERR_QUEUE_UNAVAILABLE`, naming the connection, when Redis cannot be reached.
   *
   * @example
   * ```ts
   * await backgroundTasks.ready() // fail fast at boot when Redis is down
   * ```
   */
  async ready(): Promise<void> {
    await this.#connected()
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
    await this.#connected()
    const job = await this.#queue.getJob(id)
    if (job === undefined || job === null) return undefined
    const state = await job.getState()
    const status: BullmqTaskStatus = state === 'active' ? 'running' : state === 'completed' ? 'fulfilled' : state === 'failed' ? 'rejected' : 'queued'
    const info = toInfo(job, status)
    if (status === 'fulfilled') info.result = job.returnvalue
    if (info.status === 'rejected' || info.status === 'cancelled') {
      const { logs } = await this.#queue.getJobLogs(id, -1, -1)
      const wire = fromLogLines(logs)
      info.error = fromWire(wire, job.failedReason ?? '', job.name)
    }
    return info
  }

  /**
   * The jobs in the queue, from every process: by default the queued and running ones (at most
   * `limit`, 1000 by default, per status), with names, statuses and timestamps.
   */
  async list(options?: { status?: readonly BullmqTaskStatus[]; limit?: number }): Promise<BullmqTaskInfo[]> {
    const opts = copyOptions(options, 'The list options')
    const limit = integerOption(opts.limit, 'The "limit" option', 1) ?? 1000
    const statuses = opts.status ?? ['queued', 'running']
    await this.#connected()
    const types = (status: BullmqTaskStatus): JobType[] =>
      status === 'queued' ? queuedTypes : status === 'running' ? ['active'] : status === 'fulfilled' ? ['completed'] : ['failed']
    const out: BullmqTaskInfo[] = []
    for (const status of new Set(statuses)) {
      if (status === 'cancelled' && statuses.includes('rejected')) continue
      const jobs = await this.#queue.getJobs(types(status), 0, limit - 1)
      for (const job of jobs) {
        if (job === undefined || job === null) continue
        const info = toInfo(job, status)
        if (info.status === status || (status === 'rejected' && statuses.includes('cancelled'))) out.push(info)
      }
    }
    return out
  }

  /**
   * Stops taking jobs, waits up to `timeout` (5000 ms by default) for the jobs running here, then
   * aborts their signals with `ShutdownError`: those that end cancelled go back to the queue for
   * another process (`requeued`). After `grace` (1000 ms), what still runs is `abandoned` to
   * BullMQ's stalled-job recovery (it runs again elsewhere once its lock expires). Then closes
   * every Redis connection. Idempotent; from the call on, `add()` throws {@link ClosedError}.
   *
   * @example
   * ```ts
   * process.once('SIGTERM', async () => { console.log(await backgroundTasks.shutdown({ timeout: 10_000 })) })
   * ```
   */
  shutdown(options?: BackgroundShutdownOptions): Promise<BullmqShutdownReport> {
    if (this.#shutdown !== undefined) return this.#shutdown
    const opts = copyOptions(options, 'The shutdown options')
    const duration = (value: unknown, what: string): number | undefined =>
      value === Infinity ? Infinity : integerOption(value, what, 0)
    const timeout = duration(opts.timeout, 'The "timeout" option') ?? 5000
    const grace = duration(opts.grace, 'The "grace" option') ?? 1000
    return (this.#shutdown = this.#close(timeout, grace))
  }

  /** `await using tasks = new BullmqBackgroundTasks(...)` shuts down with the defaults at the end of the block. */
  async [Symbol.asyncDispose](): Promise<void> {
    await this.shutdown()
  }

  async #close(timeout: number, grace: number): Promise<BullmqShutdownReport> {
    const report = (await this.#runner?.shutdown(timeout, grace)) ?? { completed: 0, failed: 0, cancelled: 0, abandoned: 0, requeued: 0 }
    // Adds already under way finish (or fail) before the connections close: a job is never half-added.
    await Promise.allSettled(this.#stores.values())
    const away = this.#control.status !== 'ready' // then closing politely would wait for Redis to come back
    await this.#events.close(away)
    // Bounded: with Redis away, BullMQ's close may wait for a connection that never comes.
    let timer: NodeJS.Timeout | undefined
    const closed = this.#queue.close().catch(this.#trouble)
    await Promise.race([closed, new Promise((resolve) => (timer = setTimeout(resolve, Math.min(grace, 1000))))])
    clearTimeout(timer)
    await closeClient(this.#control)
    return report
  }

  /** Resolves once Redis answers; rejects with ERR_QUEUE_UNAVAILABLE at the first failure before that. */
  #connected(): Promise<void> {
    if (this.#control.status === 'ready') return Promise.resolve()
    if (this.#start !== undefined && !this.#startFailed) return this.#start
    // First call, or Redis was down the last time we asked: ask again (ioredis keeps reconnecting).
    this.#startFailed = false
    this.#start = firstConnection(this.#control, this.#connection.label, this.queueName)
    this.#start.catch(() => (this.#startFailed = true))
    return this.#start
  }

  async #store(handle: BullmqTask<any>, data: unknown, options: Pick<BullmqAddOptions, 'attempts' | 'backoff'>): Promise<void> {
    await this.#connected()
    // Listen first: the job's events cannot be missed, however fast another process runs it.
    await this.#events.subscribed()
    await this.#queue.add(handle.name, data, {
      jobId: handle.id,
      ...(options.attempts === undefined ? {} : { attempts: options.attempts }),
      ...(options.backoff === undefined ? {} : { backoff: options.backoff }),
      removeOnComplete: { count: this.#keep.completed },
      removeOnFail: { count: this.#keep.failed },
    })
  }

  /**
   * Cancels the job with this id, from any process (no handle needed): a queued job is removed and
   * never runs; a running job's signal aborts in the process running it, and it ends
   * `'cancelled'`, not retried. Resolves once the request is delivered; does nothing for a finished
   * or unknown job. Rejects when Redis cannot be reached.
   *
   * @example
   * ```ts
   * app.post('/jobs/:id/cancel', async (request) => backgroundTasks.cancel(request.params.id, 'cancelled by the user'))
   * ```
   */
  async cancel(id: string, reason?: unknown): Promise<void> {
    if (typeof id !== 'string') throw invalidType('The "id" argument', 'a string', id)
    await this.#cancelJob(id, reason)
  }

  #cancel = (handle: BullmqTask<any>, reason: unknown): Promise<void> => this.#cancelJob(handle.id, reason)

  /** A queued job is removed; a running one is told to stop wherever it runs. */
  async #cancelJob(id: string, reason: unknown): Promise<void> {
    await this.#stores.get(id)
    await this.#connected()
    const job = await this.#queue.getJob(id)
    if (job === undefined || job === null) return
    const state = await job.getState()
    if (state === 'completed' || state === 'failed' || state === 'unknown') return
    if (state !== 'active') {
      try {
        await job.remove()
        this.#events.removed(id)
        return
      } catch {
        // It started meanwhile (BullMQ refuses to remove a locked job): stop it where it runs.
      }
    }
    const text = reason === undefined ? undefined : reason instanceof Error ? reason.message : String(reason)
    await this.#control.publish(cancelChannel(this.#prefix, this.queueName), JSON.stringify({ id, reason: text }))
  }

  /** Redis trouble: reported once per kind of failure until the connection is ready again, never thrown. */
  #trouble = (error: unknown): void => {
    // A connection going down or not coming up is reported once, by the control client, naming the connection.
    if (isConnectionError(error)) return
    const key = error instanceof Error ? `${error.name}:${error.message}` : String(error)
    if (this.#troubleSeen.has(key)) return
    this.#troubleSeen.add(key)
    try {
      this.#onError(error, undefined)
    } catch (hookError) {
      defaultOnError(new AggregateError([error, hookError], 'The onError hook threw'), undefined)
    }
  }
}

function toInfo(job: Job, listed: BullmqTaskStatus): BullmqTaskInfo {
  let status = listed
  if (listed === 'rejected' && job.failedReason?.startsWith(cancelledMark)) status = 'cancelled'
  return {
    id: job.id!,
    name: job.name,
    status,
    addedAt: new Date(job.timestamp),
    startedAt: job.processedOn ? new Date(job.processedOn) : undefined,
    finishedAt: job.finishedOn ? new Date(job.finishedOn) : undefined,
    attempts: job.attemptsMade,
    processedBy: job.processedBy,
  }
}
