// `Task`: one unit of work of a TaskGroup, from queued to settled.
import { performance } from 'node:perf_hooks'
import { type CancelledError, isCancellation } from '../errors.js'
import { noop, toCancelledError } from '../internal/cancel.js'
import { Trace, taskChannel, traced } from '../internal/channels.js'
import type { Linked } from '../internal/linked-list.js'
import { cancellationOf, runWork, type Work } from '../internal/run-work.js'
import {
  kAbort,
  kCreate,
  kError,
  kNext,
  kObserved,
  kPrevious,
  kStart,
  kStartedAt,
  kTaskSettled,
  kToken,
  kWhenSettled,
} from '../internal/symbols.js'
import { illegalConstructor } from '../internal/validation.js'

/** Where a task is in its life. */
export type TaskStatus = 'queued' | 'running' | 'fulfilled' | 'rejected' | 'cancelled'

/**
 * What a task runs: a function called with the task's AbortSignal, or a promise that is already
 * running (which cannot be stopped: on cancellation the task rejects at once and the promise's later outcome is ignored).
 */
export type TaskWork<T> = Work<T>

/** Options of {@link TaskGroup.createTask}. */
export interface TaskOptions {
  /**
   * A name for logs and errors.
   * @default the function's name, else `Task-<n>`
   */
  name?: string
}

/** @internal What a task tells its group. */
export interface TaskOwner {
  readonly signal: AbortSignal
  [kTaskSettled](task: Task<unknown>, wasRunning: boolean, failed: boolean): void
}

// True while the library attaches a handler of its own to a task: that is not observing it.
let quiet = false
const nativeThen = Promise.prototype.then

/**
 * A unit of work in a {@link TaskGroup}: a promise of the work's value, with a name, a status, a
 * signal and `cancel()`. Await it (or pass it to `Promise.all`) for its value.
 * Made by `group.createTask()`, never constructed directly.
 *
 * Rejects with the work's error, or with a {@link CancelledError} when it was cancelled. Awaiting
 * it, passing it to `Promise.all` (or any promise combinator) or attaching a handler (`then`,
 * `catch`, `finally`) counts as observing its failure: `close()` does not report it again. A
 * failure nobody observed is never an unhandled rejection: the group's `close()` reports it.
 *
 * @example
 * ```ts
 * await using group = new TaskGroup()
 * const user = group.createTask((signal) => fetchUser(id, { signal }), { name: 'user' })
 * console.log(user.status) // 'running'
 * const value = await user
 * ```
 */
export class Task<T> extends Promise<T> {
  /** @internal Its neighbours in its group's list of live tasks. */
  [kPrevious]: Linked | undefined;
  /** @internal */
  [kNext]: Linked | undefined
  // Its name, or '' until the `Task-<n>` name is asked for (most never are).
  #name: string
  #number: number
  #status: TaskStatus
  #owner: TaskOwner
  #work: TaskWork<T> | undefined
  #controller: AbortController | undefined
  #cancelReason: CancelledError | undefined
  #trace: Trace | undefined
  #resolve: (value: unknown) => void
  #reject: (reason: unknown) => void
  #settled = false
  #observed = false
  #error: unknown
  /** @internal When it was created (`performance.now()`), for `runtime.inspect()`. */
  readonly [kStartedAt] = performance.now()

  static {
    // Every way of observing a promise reads its `constructor` first: `await` and `Promise.all`
    // (and the other combinators) to decide whether it is a native promise to attach to as it
    // is, `then`/`catch`/`finally` to make the promise they return. A task answers `Promise` (so
    // `await task` and `Promise.all(tasks)` attach to it directly, as to any native promise, with
    // no thenable step) and records that it was observed.
    Object.defineProperty(Task.prototype, 'constructor', {
      configurable: true,
      get(this: unknown): PromiseConstructor {
        if (!quiet && typeof this === 'object' && this !== null && #observed in this) this.#observed = true
        return Promise
      },
    })
  }

  /** Promises made from a task (`then`, `catch`, `finally`) are plain promises. */
  static override get [Symbol.species](): PromiseConstructor {
    return Promise
  }

  /** @internal Made by `group.createTask()`. */
  static [kCreate]<T>(owner: TaskOwner, work: TaskWork<T>, name: string, number: number): Task<T> {
    return new Task(kToken, owner, work, name, number)
  }

  private constructor(token: typeof kToken, owner: TaskOwner, work: TaskWork<T>, name: string, number: number) {
    if (token !== kToken) throw illegalConstructor('Task', 'group.createTask()')
    let resolve!: (value: unknown) => void
    let reject!: (reason: unknown) => void
    super((res, rej) => {
      resolve = res as (value: unknown) => void
      reject = rej
    })
    this.#resolve = resolve
    this.#reject = reject
    this.#owner = owner
    this.#work = work
    this.#name = name
    this.#number = number
    this.#status = 'queued'
  }

  /** @internal True once anybody awaited it or attached a handler to it. */
  get [kObserved](): boolean {
    return this.#observed
  }

  /** @internal Resolves (never rejects) once settled, without counting as observing the outcome. */
  [kWhenSettled](): Promise<void> {
    return this.#quietly(noop, noop) as Promise<void>
  }

  /** `then` without counting as observing. */
  #quietly(fulfilled: ((value: T) => unknown) | undefined, rejected: (reason: unknown) => unknown): Promise<unknown> {
    quiet = true
    try {
      return nativeThen.call(this, fulfilled, rejected)
    } finally {
      quiet = false
    }
  }

  /** The task's name: the `name` option, else the function's name, else `Task-<n>`. */
  get name(): string {
    return this.#name || (this.#name = `Task-${this.#number}`)
  }

  /** `'queued'`, `'running'`, `'fulfilled'`, `'rejected'` or `'cancelled'`. */
  get status(): TaskStatus {
    return this.#status
  }

  /**
   * The task's own AbortSignal: aborts when the task or its group is cancelled, when a sibling
   * fails, or when the group's parent signal or timeout fires. Its `reason` is a CancelledError.
   */
  get signal(): AbortSignal {
    if (this.#controller === undefined) {
      this.#controller = new AbortController()
      if (this.#cancelReason !== undefined) this.#controller.abort(this.#cancelReason)
    }
    return this.#controller.signal
  }

  /**
   * Cancels this task alone: a queued task never starts; a running one sees its signal abort
   * (a task made from a bare promise rejects at once). No effect once the task has settled.
   */
  cancel(reason?: unknown): void {
    this[kAbort](toCancelledError(reason, `Task "${this.name}" was cancelled`))
  }

  /** @internal Cancels with a ready-made reason (the group passes its own). */
  [kAbort](reason: CancelledError): void {
    if (this.#settled || this.#cancelReason !== undefined) return
    this.#cancelReason = reason
    this.#controller?.abort(reason)
    const status = this.#status
    // A queued task never starts; a bare promise cannot be stopped, so it stops being waited for.
    if (status === 'queued' || !(typeof this.#work === 'function')) this.#finish('cancelled', reason, status === 'running')
  }

  /** @internal Runs the work now. */
  [kStart](): void {
    const work = this.#work!
    this.#status = 'running'
    if (this.#cancelReason !== undefined) return this.#finish('cancelled', this.#cancelReason, true)
    // Work that declares no parameter cannot read a signal: it shares the group's instead of
    // paying for an AbortController of its own (see README, "Costs").
    const signal = typeof work !== 'function' ? undefined : work.length === 0 ? this.#owner.signal : this.signal
    // The work's outcome reaches the task through these two callbacks; `await task` and
    // `Promise.all` attach to the task itself. (The promise `runWork` returns settles after them
    // and is never rejected: nothing to handle.)
    if (!traced(taskChannel)) runWork(work, signal, this.#fulfilled, this.#rejected)
    else {
      this.#trace = new Trace(taskChannel, { task: this, group: this.#owner, kind: 'task' })
      this.#trace.run(runWork, work, signal, this.#fulfilled, this.#rejected)
    }
  }

  #fulfilled = (value: unknown): unknown => {
    this.#finish('fulfilled', value, true)
    return value
  }

  #rejected = (error: unknown): unknown => {
    if (!isCancellation(error)) this.#finish('rejected', error, true)
    else
      this.#finish(
        'cancelled',
        cancellationOf(error, this.#cancelReason, () => `Task "${this.name}" was cancelled`),
        true,
      )
    return undefined
  }

  #finish(status: 'fulfilled' | 'rejected' | 'cancelled', value: unknown, wasRunning: boolean): void {
    if (this.#settled) return
    this.#settled = true
    if (status === 'fulfilled') this.#resolve(value)
    else {
      this.#error = value
      // Handled by the group (reported by close() if nobody observed it): never an unhandled rejection.
      this.#quietly(undefined, noop)
      this.#reject(value)
    }
    this.#status = status
    this.#work = undefined
    this.#trace?.settled(status, value)
    this.#owner[kTaskSettled](this as Task<unknown>, wasRunning, status === 'rejected')
  }

  /** @internal The failure, for the group's report. */
  get [kError](): unknown {
    return this.#error
  }

  override get [Symbol.toStringTag](): string {
    return 'Task'
  }
}
