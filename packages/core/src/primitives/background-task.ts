import { randomUUID } from 'node:crypto'
import { performance } from 'node:perf_hooks'
import { type CancelledError, isCancellation } from '../errors.js'
import { toCancelledError } from '../internal/cancel.js'
import { backgroundChannel, Trace, taskChannel, traced } from '../internal/channels.js'
import { cancellationOf, isWork, runWork, type Work } from '../internal/run-work.js'
import { Settleable } from '../internal/settleable.js'
import { kCreate, kObserved, kToken, kWhenSettled } from '../internal/symbols.js'
import { copyOptions, illegalConstructor, invalidType, validateString } from '../internal/validation.js'
import { detached } from './current-task-group.js'

/** Where a background task is in its life. */
export type BackgroundTaskStatus = 'running' | 'fulfilled' | 'rejected' | 'cancelled'

/** Options of {@link createBackgroundTask} and {@link BackgroundTasks.add}. */
export interface BackgroundTaskOptions {
  /** A name for logs and `list()`. Default: the function's name, else `background`. */
  name?: string
}

/**
 * Work running on its own, outside any request: from {@link createBackgroundTask} (scoped to an
 * `await using` block) or {@link BackgroundTasks.add} (app lifetime). PromiseLike: await it for its
 * value. Its `signal` aborts only when it is cancelled, never because a request ended.
 *
 * @example
 * ```ts
 * const job = app.backgroundTasks.add((signal) => sendNewsletter(list, { signal }), { name: 'newsletter' })
 * reply.send({ id: job.id, status: job.status })
 * ```
 */
export class BackgroundTask<T = unknown> extends Settleable<T> implements AsyncDisposable {
  /** A unique id (a random UUID, or the `id` given to `add(task, data, { id })`), safe to hand to clients. */
  readonly id: string
  /** The task's name. */
  readonly name: string
  /** When it started. */
  readonly startedAt: Date
  #status: BackgroundTaskStatus = 'running'
  #controller = new AbortController()
  #start = performance.now()
  #end: number | undefined
  #bare: boolean
  #onSettled: ((task: BackgroundTask<any>) => void) | undefined
  #traces: Trace[] | undefined

  /** @internal Made by `createBackgroundTask()` and `backgroundTasks.add()`. */
  static [kCreate]<T>(work: Work<T>, name: string, onSettled?: (task: BackgroundTask<any>) => void, id?: string): BackgroundTask<T> {
    return new BackgroundTask(kToken, work, name, onSettled, id)
  }

  private constructor(token: typeof kToken, work: Work<T>, name: string, onSettled?: (task: BackgroundTask<any>) => void, id?: string) {
    super()
    if (token !== kToken) throw illegalConstructor('BackgroundTask', 'createBackgroundTask() or backgroundTasks.add()')
    this.id = id ?? randomUUID()
    this.name = name
    this.startedAt = new Date()
    this.#onSettled = onSettled
    this.#bare = typeof work !== 'function'
    if (traced(taskChannel) || traced(backgroundChannel)) this.#traced(work)
    // Background work belongs to no task group: `currentTaskGroup()` is undefined in it.
    else detached(this.#controller.signal, runWork, work, this.#controller.signal, this.#fulfilled, this.#rejected)
  }

  /** Runs the work inside `taskscope:background` and `taskscope:task` (kind `'background'`), for whichever has listeners. */
  #traced(work: Work<T>): void {
    const traces: Trace[] = (this.#traces = [])
    if (traced(backgroundChannel)) traces.push(new Trace(backgroundChannel, { task: this }))
    if (traced(taskChannel)) traces.push(new Trace(taskChannel, { task: this, group: undefined, kind: 'background' }))
    const run = (index: number): void => {
      if (index === traces.length)
        detached(this.#controller.signal, runWork, work, this.#controller.signal, this.#fulfilled, this.#rejected)
      else traces[index]!.run(run, index + 1)
    }
    run(0)
  }

  /** `'running'`, `'fulfilled'`, `'rejected'` or `'cancelled'`. */
  get status(): BackgroundTaskStatus {
    return this.#status
  }

  /** Aborts when the task is cancelled; the reason is a CancelledError (ShutdownError on shutdown). */
  get signal(): AbortSignal {
    return this.#controller.signal
  }

  /** Milliseconds it has run (so far, or in all once settled). */
  get durationMs(): number {
    return (this.#end ?? performance.now()) - this.#start
  }

  /** The failure, once rejected. */
  get error(): unknown {
    return this.reason
  }

  /**
   * Cancels the task: its signal aborts with a CancelledError whose `cause` is `reason` (a
   * CancelledError reason is used as it is). A task made from a bare promise rejects at once.
   */
  cancel(reason?: unknown): void {
    if (this.settled || this.#controller.signal.aborted) return
    const error = toCancelledError(reason, `Background task "${this.name}" was cancelled`)
    this.#controller.abort(error)
    if (this.#bare) this.#finish('cancelled', error)
  }

  /**
   * End of an `await using` scope: cancels the task if it is still running and waits for it.
   * Throws the task's failure if nobody observed it; a cancellation is not an error.
   */
  async [Symbol.asyncDispose](): Promise<void> {
    const observed = this[kObserved]
    this.cancel()
    await this[kWhenSettled]()
    if (this.#status === 'rejected' && !observed) throw this.reason
  }

  #fulfilled = (value: unknown): void => this.#finish('fulfilled', value)

  #rejected = (error: unknown): void => {
    if (!isCancellation(error)) return this.#finish('rejected', error)
    const reason = this.#controller.signal.aborted ? (this.#controller.signal.reason as CancelledError) : undefined
    this.#finish(
      'cancelled',
      cancellationOf(error, reason, () => `Background task "${this.name}" was cancelled`),
    )
  }

  #finish(status: Exclude<BackgroundTaskStatus, 'running'>, value: unknown): void {
    if (!this.settle(status === 'fulfilled', value)) return
    this.#status = status
    this.#end = performance.now()
    if (this.#traces !== undefined) for (const trace of this.#traces) trace.settled(status, value)
    const onSettled = this.#onSettled
    this.#onSettled = undefined
    onSettled?.(this)
  }

  get [Symbol.toStringTag](): string {
    return 'BackgroundTask'
  }
}

/** @internal Validates arguments shared by createBackgroundTask and BackgroundTasks.add. */
export function backgroundTaskName(work: unknown, options: BackgroundTaskOptions | undefined): string {
  if (!isWork(work)) throw invalidType('The "work" argument', 'a function or a promise', work)
  const name = validateString(copyOptions(options, 'The background task options').name, 'The "name" option')
  return name ?? ((typeof work === 'function' && work.name) || 'background')
}

/**
 * Nexios' `create_background_task`: starts `work` now and ties it to a scope. At the end of an
 * `await using` block the task is cancelled if still running and awaited; its failure is thrown
 * there unless you already awaited it. For work that must outlive the scope, use
 * {@link BackgroundTasks}.
 *
 * Throws a TypeError when `work` is neither a function nor a promise.
 *
 * @example
 * ```ts
 * await using heartbeat = createBackgroundTask(async (signal) => {
 *   for await (const _ of setInterval(1_000, undefined, { signal })) await ping()
 * }, { name: 'heartbeat' })
 * await doTheMainThing()
 * ```
 */
export function createBackgroundTask<T>(work: Work<T>, options?: BackgroundTaskOptions): BackgroundTask<Awaited<T>> {
  return BackgroundTask[kCreate](work, backgroundTaskName(work, options)) as BackgroundTask<Awaited<T>>
}
