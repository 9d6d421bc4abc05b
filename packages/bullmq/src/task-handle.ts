// The handle of a distributed background task: its id, its status as this process last heard
// it, a PromiseLike of its result, and `cancel()`.
import { codedError, errorCodes } from '@taskscope/core/adapter'

/** Where a distributed background task is in its life. */
export type BullmqTaskStatus = 'queued' | 'running' | 'fulfilled' | 'rejected' | 'cancelled'

/**
 * @internal A handle whatever its result type: what the registry and its events keep, by job id
 * (`any`, not `unknown`: a `BullmqTask<R>` is not assignable to `BullmqTask<unknown>`, its
 * cancel callback takes the handle).
 */
export type AnyBullmqTask = BullmqTask<any>

/** @internal */
export const kToken = Symbol('taskscope.bullmq.token')
/** @internal Makes a handle (the constructor is private). */
export const kCreate = Symbol('taskscope.bullmq.create')
/** @internal Moves the handle to a new unsettled status (`queued`, `running`). */
export const kMove = Symbol('taskscope.bullmq.move')
/** @internal Settles the handle. */
export const kSettle = Symbol('taskscope.bullmq.settle')
/** @internal This process stops listening: awaiting the handle rejects, the job goes on in the queue. */
export const kDetach = Symbol('taskscope.bullmq.detach')

/**
 * A job on the queue, seen from this process: from `add()` or `get()` of a
 * {@link BullmqBackgroundTasks}. PromiseLike: `await job` gives the task's result once any process
 * has run it, or throws its error (with `name`, `message` and `code`), or a `CancelledError` when
 * it was cancelled. An unawaited failure is never an unhandled rejection here: the process that
 * ran it reported it to its `onError`.
 *
 * @example
 * ```ts
 * const job = backgroundTasks.add(sendNewsletter, { list: 'weekly' }, { id: 'weekly-48' })
 * reply.send({ id: job.id, status: job.status }) // 'queued'
 * const { sent } = await job
 * ```
 */
export class BullmqTask<R = unknown> implements PromiseLike<R> {
  /** The BullMQ job id: the `id` given to `add`, or a random UUID. */
  readonly id: string
  /** The task's name (its {@link defineTask} name). */
  readonly name: string
  #status: BullmqTaskStatus
  #promise: Promise<R>
  #resolve!: (value: R) => void
  #reject!: (error: unknown) => void
  #cancel: (task: BullmqTask<R>, reason: unknown) => Promise<void>
  #error: unknown

  /** @internal Made by `BullmqBackgroundTasks`. */
  static [kCreate]<R>(
    id: string,
    name: string,
    status: BullmqTaskStatus,
    cancel: (task: BullmqTask<R>, reason: unknown) => Promise<void>,
  ): BullmqTask<R> {
    return new BullmqTask<R>(kToken, id, name, status, cancel)
  }

  private constructor(
    token: typeof kToken,
    id: string,
    name: string,
    status: BullmqTaskStatus,
    cancel: (task: BullmqTask<R>, reason: unknown) => Promise<void>,
  ) {
    if (token !== kToken) {
      throw codedError(
        TypeError,
        errorCodes.illegalConstructor,
        'Illegal constructor: a BullmqTask is made by backgroundTasks.add() or get()',
      )
    }
    this.id = id
    this.name = name
    this.#status = status
    this.#cancel = cancel
    this.#promise = new Promise<R>((resolve, reject) => {
      this.#resolve = resolve
      this.#reject = reject
    })
    // The outcome is the running process's to report; here it is only for whoever awaits it.
    this.#promise.catch(() => {})
  }

  /** `'queued'`, `'running'`, `'fulfilled'`, `'rejected'` or `'cancelled'`, as this process last heard. */
  get status(): BullmqTaskStatus {
    return this.#status
  }

  /** True once the job finished (fulfilled, rejected or cancelled). */
  get settled(): boolean {
    return this.#status === 'fulfilled' || this.#status === 'rejected' || this.#status === 'cancelled'
  }

  /** The failure, once rejected or cancelled. */
  get error(): unknown {
    return this.#error
  }

  // biome-ignore lint/suspicious/noThenProperty: a handle is a PromiseLike on purpose (await job)
  then<A = R, B = never>(
    onFulfilled?: ((value: R) => A | PromiseLike<A>) | null,
    onRejected?: ((reason: unknown) => B | PromiseLike<B>) | null,
  ): Promise<A | B> {
    return this.#promise.then(onFulfilled, onRejected)
  }

  catch<B = never>(onRejected?: ((reason: unknown) => B | PromiseLike<B>) | null): Promise<R | B> {
    return this.#promise.catch(onRejected)
  }

  finally(onFinally?: (() => void) | null): Promise<R> {
    return this.#promise.finally(onFinally)
  }

  /**
   * Cancels the job, from any process: a queued job is removed and never runs; a running job's
   * signal aborts in the process running it, and it ends `'cancelled'`, not retried. Resolves once
   * the request is delivered (the handle settles when the job has ended); does nothing for a
   * finished job. Rejects only when Redis cannot be reached.
   */
  cancel(reason?: unknown): Promise<void> {
    if (this.settled) return Promise.resolve()
    return this.#cancel(this, reason)
  }

  /** @internal */
  [kMove](status: 'queued' | 'running'): void {
    if (!this.settled) this.#status = status
  }

  /** @internal */
  [kSettle](status: 'fulfilled' | 'rejected' | 'cancelled', value: unknown): boolean {
    if (this.settled) return false
    this.#status = status
    if (status === 'fulfilled') {
      this.#resolve(value as R)
    } else {
      this.#error = value
      this.#reject(value)
    }
    return true
  }

  /** @internal */
  [kDetach](error: unknown): void {
    if (!this.settled) this.#reject(error)
  }

  get [Symbol.toStringTag](): string {
    return 'BullmqTask'
  }
}
