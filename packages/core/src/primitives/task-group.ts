import { AsyncLocalStorage } from 'node:async_hooks'
import { setMaxListeners } from 'node:events'
import { CancelledError, ClosedError, isCancellation, TaskGroupError, TimeoutError } from '../errors.js'
import { toCancelledError } from '../internal/cancel.js'
import { deferred, type Deferred } from '../internal/deferred.js'
import {
  copyOptions,
  invalidType,
  validateBoolean,
  validateDuration,
  validateInteger,
  validateSignal,
  validateString,
} from '../internal/validation.js'
import { isWork } from '../internal/run-work.js'
import { groupCancelChannel } from '../internal/channels.js'
import {
  kAbort,
  kCancelKind,
  kChildFailed,
  kCloseAsChild,
  kCreate,
  kCurrentGroup,
  kError,
  kLiveTasks,
  kObserved,
  kStart,
  kTaskSettled,
} from '../internal/symbols.js'
import { enterGroup } from './current-task-group.js'
import { type StartWork, startTask } from './group-start.js'
import { Task, type TaskOptions, type TaskWork } from './task.js'

/** Options of {@link TaskGroup}. */
export interface TaskGroupOptions {
  /** A parent signal: when it aborts, the group is cancelled and `close()` rejects with the reason. */
  signal?: AbortSignal
  /** At most this many tasks run at once; the rest wait in FIFO order. Default: Infinity. */
  limit?: number
  /** Cancels the group with a {@link TimeoutError} this many ms after it was created. */
  timeout?: number
  /** A name for errors and logs. */
  name?: string
  /**
   * `true` (the default): the first failure cancels every other task. `false` (a supervisor, as
   * Kotlin's `supervisorScope`): a failure cancels nothing, the other tasks run on, and `close()`
   * still rejects with a {@link TaskGroupError} of the failures nobody observed.
   */
  failFast?: boolean
}

/** Options of {@link TaskGroup.child}: those of a group, without `signal` (the parent is the parent). */
export interface ChildTaskGroupOptions {
  /** Cancels the child (alone) with a {@link TimeoutError} this many ms after it was created. */
  timeout?: number
  /** At most this many of the child's tasks run at once. */
  limit?: number
  /** Whether the child's first failure cancels its other tasks (and, through its parent, the parent's). Default: true. */
  failFast?: boolean
  /** A name for errors and logs; also the name of the child's task in the parent. */
  name?: string
}

/** @internal Why a group was cancelled. */
export type CancelKind = 'user' | 'parent' | 'timeout' | 'failure'

const startTaskNow = (task: Task<unknown>): void => task[kStart]()
/** A child closed by its user: they got its failures; only its cancellation reaches the parent. */
const keepCancellation = (error: unknown): void => {
  if (isCancellation(error)) throw error
}

/**
 * A scope for concurrent tasks (asyncio.TaskGroup semantics): it waits for every task it started,
 * the first failure cancels the rest, and no error is lost.
 *
 * Throws a TypeError/RangeError for invalid options.
 *
 * @example
 * ```ts
 * await using group = new TaskGroup({ timeout: 5_000 })
 * const user = group.createTask((signal) => getUser(id, { signal }))
 * const posts = group.createTask((signal) => getPosts(id, { signal }))
 * return { user: await user, posts: await posts }
 * ```
 */
export class TaskGroup implements AsyncDisposable {
  /** The group's name, if given. */
  readonly name: string | undefined
  // Created on first read of `signal`: a group nobody asks for a signal (a request group whose
  // handler never used it, zero-parameter work aside) never pays for an AbortController.
  #controller: AbortController | undefined
  #reason: CancelledError | undefined
  #limit: number
  #parent: AbortSignal | undefined
  #timer: NodeJS.Timeout | undefined
  #live = new Set<Task<unknown>>()
  #queue: Array<{ task: Task<unknown>; run: (fn: () => void) => void }> = []
  #queueHead = 0
  #running = 0
  #created = 0
  #failures: Task<unknown>[] = []
  #failFast: boolean
  #deadline: number | undefined
  #parentGroup: TaskGroup | undefined
  // Child groups by their task in this group; a child's task settles when the child has closed.
  #children = new Map<Task<unknown>, TaskGroup>()
  #childTasks = new WeakSet<Task<unknown>>()
  #onClose: ((closing: Promise<void>, byUser: boolean) => void) | undefined
  #cancelKind: CancelKind | undefined
  #idle: Deferred<void> | undefined
  #closing: Promise<void> | undefined
  #joining: Promise<TaskGroupError | undefined> | undefined
  #closed = false

  constructor(options?: TaskGroupOptions) {
    const opts = copyOptions(options, 'The TaskGroup options')
    this.#parent = validateSignal(opts.signal, 'The "signal" option')
    this.#limit = validateInteger(opts.limit, 'The "limit" option', 1, true) ?? Infinity
    const timeout = validateDuration(opts.timeout, 'The "timeout" option')
    this.name = validateString(opts.name, 'The "name" option')
    this.#failFast = validateBoolean(opts.failFast, 'The "failFast" option') ?? true
    if (timeout !== undefined) this.#deadline = Date.now() + timeout

    if (this.#parent?.aborted) {
      this.#onParentAbort()
    } else {
      this.#parent?.addEventListener('abort', this.#onParentAbort, { once: true })
      if (timeout !== undefined) this.#timer = setTimeout(this.#onTimeout, timeout, timeout)
    }
  }

  /**
   * Runs `fn` with a new group, waits for every task, and returns what `fn` returned.
   *
   * A cancellation is never reported as an error. How `run` settles:
   * - tasks failed: rejects with a {@link TaskGroupError} of those failures only, even when the
   *   failure made `fn`'s own `await` reject (because it was tied to `group.signal`);
   * - `fn` threw a real error: its tasks are cancelled and that error is thrown (first in a
   *   {@link TaskGroupError} along with the tasks' failures, if there are any);
   * - `fn` returned: its value, even if the group was cancelled before; but when the parent
   *   `signal` or the `timeout` cancels the tasks `run` is still waiting for, it rejects with that
   *   {@link CancelledError}/{@link TimeoutError};
   * - `fn` threw a cancellation after the group was cancelled: resolves `undefined` when it was
   *   cancelled by `group.cancel()`; rejects with the {@link CancelledError}/{@link TimeoutError}
   *   of the parent `signal` or the `timeout` otherwise;
   * - `fn` threw a cancellation of its own while the group was not cancelled (an AbortError from a
   *   signal of its own): the tasks are cancelled and `run` rejects with it.
   *
   * So nested groups report the root failure once: when a task of the outer group fails, an inner
   * group given `{ signal: outer.signal }` rejects with the resulting cancellation, which the outer
   * `run` does not count as an error.
   *
   * Rejects with a TypeError when `fn` is not a function, and with a TypeError/RangeError for
   * invalid options.
   *
   * @example
   * ```ts
   * const [user, posts] = await TaskGroup.run(
   *   (group) => Promise.all([group.createTask((signal) => getUser(id, { signal })), group.createTask((signal) => getPosts(id, { signal }))]),
   *   { timeout: 5_000 },
   * )
   * ```
   */
  static async run<T>(fn: (group: TaskGroup) => T | PromiseLike<T>, options?: TaskGroupOptions): Promise<Awaited<T>> {
    if (typeof fn !== 'function') throw invalidType('The "fn" argument', 'a function', fn)
    const group = new TaskGroup(options)
    let value: Awaited<T>
    try {
      value = await fn(group)
    } catch (error) {
      return group.#exitWith(error) as Promise<Awaited<T>>
    }
    return group.#exitAfter(value)
  }

  /** How `run` ends when its body returned `value`. */
  async #exitAfter<T>(value: T): Promise<T> {
    // A cancellation the body saw and chose to ignore does not undo its value; one that comes from
    // the parent signal or the timeout while `run` waits for the tasks interrupts that wait.
    const cancelledBefore = this.#reason !== undefined
    const failed = await this.#join()
    if (failed !== undefined) throw failed
    if (!cancelledBefore && (this.#cancelKind === 'parent' || this.#cancelKind === 'timeout')) throw this.#reason
    return value
  }

  /** How `run` ends when its body threw `error`. */
  async #exitWith(error: unknown): Promise<undefined> {
    // Decided before cancelling: was this the group's own cancellation surfacing in the body?
    const groupCancellation = this.#reason !== undefined && isCancellation(error)
    if (!groupCancellation) this.cancel(error)
    const failed = await this.#join()
    if (!isCancellation(error)) {
      if (failed === undefined) throw error
      throw new TaskGroupError([error, ...failed.errors], `The body of TaskGroup.run failed, and ${failed.message}`)
    }
    if (failed !== undefined) throw failed
    if (!groupCancellation) throw error
    if (this.#cancelKind === 'parent' || this.#cancelKind === 'timeout') throw this.#reason
    return undefined
  }

  /** Aborts when the group is cancelled (by `cancel()`, a failure, the parent signal or the timeout). */
  get signal(): AbortSignal {
    if (this.#controller === undefined) {
      this.#controller = new AbortController()
      setMaxListeners(0, this.#controller.signal)
      if (this.#reason !== undefined) this.#controller.abort(this.#reason)
    }
    return this.#controller.signal
  }

  /** Number of tasks not settled yet (running and queued). */
  get size(): number {
    return this.#live.size
  }

  /** True once `close()` has finished: `createTask` then throws {@link ClosedError}. */
  get closed(): boolean {
    return this.#closed
  }

  /** True once the group has been cancelled, for whatever reason. */
  get cancelled(): boolean {
    return this.#reason !== undefined
  }

  /**
   * Starts a task now, or queues it when `limit` tasks are running. `work` is a function called
   * with the task's AbortSignal, or a promise. On a cancelled group the task is returned already
   * cancelled and its work never runs.
   *
   * Throws {@link ClosedError} once `close()` has finished; a TypeError when `work` is neither a
   * function nor a promise.
   *
   * @example
   * ```ts
   * const task = group.createTask((signal) => fetch(url, { signal }), { name: 'fetch' })
   * ```
   */
  createTask<T>(work: TaskWork<T>, options?: TaskOptions): Task<Awaited<T>> {
    if (this.#closed) throw this.#closedError()
    if (!isWork(work)) {
      throw invalidType('The "work" argument', 'a function or a promise', work)
    }
    const name =
      (options === undefined ? undefined : validateString(options.name, 'The "name" option')) ??
      ((typeof work === 'function' && work.name) || `Task-${++this.#created}`)
    const task = Task[kCreate](this, work, name) as Task<Awaited<T>>
    this.#live.add(task)
    if (this.#reason !== undefined) {
      task[kAbort](this.#reason)
    } else if (this.#running < this.#limit) {
      this.#running++
      enterGroup(this, startTaskNow, task)
    } else {
      // Queued work starts later, from whichever task frees the slot: keep its caller's context.
      this.#queue.push({ task, run: AsyncLocalStorage.snapshot() })
    }
    return task
  }

  /**
   * Starts `work(signal, ready)` as a task of the group and resolves with the value it passes to
   * `ready(value)`, while the task keeps running in the group (a listener, a subscription, a warm
   * cache). Until `ready` is called the task is the caller's: if the work throws, `start` rejects
   * with that error and the group is not failed; if it returns first, `start` rejects with an
   * error of code `ERR_TASK_NOT_STARTED`; if it is cancelled first, with the {@link CancelledError}.
   * After `ready`, the task is like any other (its failure is the group's). Calls of `ready` after
   * the first do nothing.
   *
   * Rejects with {@link ClosedError} once `close()` has finished, and with a TypeError when `work`
   * is not a function.
   *
   * @example
   * ```ts
   * const port = await group.start(async (signal, ready) => {
   *   const server = http.createServer(handler).listen(0)
   *   await once(server, 'listening')
   *   ready(server.address().port)
   *   await once(signal, 'abort')
   *   server.close()
   * })
   * ```
   */
  start<T = unknown>(work: StartWork<T>, options?: TaskOptions): Promise<T> {
    return startTask(this, work, options)
  }

  /**
   * The moment (epoch ms) the group's `timeout` ends, or the earlier one of a parent group
   * (see {@link TaskGroup.child}); `undefined` without one (a plain `signal` parent gives none).
   */
  get deadline(): number | undefined {
    const parent = this.#parentGroup?.deadline
    const own = this.#deadline
    return parent === undefined || (own !== undefined && own < parent) ? own : parent
  }

  /**
   * Milliseconds left until {@link TaskGroup.deadline}, never below 0; Infinity without a deadline.
   * Pass it on as the budget of a call that takes a timeout of its own.
   *
   * @example
   * ```ts
   * await pool.run(render, [doc], { signal: group.signal, timeout: group.remaining() })
   * ```
   */
  remaining(): number {
    const deadline = this.deadline
    return deadline === undefined ? Infinity : Math.max(0, deadline - Date.now())
  }

  /**
   * A nested group that is a task of this one: cancelled when this group is cancelled, its
   * deadline the earlier of its own `timeout` and this group's, its failures this group's
   * failures (with `failFast`, a failure in the child cancels this group too), and this group's
   * `close()` closes it and waits for its tasks. Its own `timeout` cancels the child alone, which
   * is not a failure. It takes no slot of this group's `limit`. You may close it yourself
   * (`await using`): then its failures are thrown to you, not to this group. On a cancelled group
   * it is returned cancelled.
   *
   * Throws {@link ClosedError} once `close()` has finished; a TypeError/RangeError for invalid options.
   *
   * @example
   * ```ts
   * const optional = group.child({ failFast: false, timeout: 300 })
   * optional.createTask((signal) => fetchRecommendations(id, { signal }))
   * ```
   */
  child(options?: ChildTaskGroupOptions): TaskGroup {
    if (this.#closed) throw this.#closedError()
    const { timeout, limit, failFast, name } = copyOptions(options, 'The child group options')
    const child = new TaskGroup({ timeout, limit, failFast, name })
    child.#parentGroup = this
    const ended = deferred<void>()
    child.#onClose = (closing, byUser) => ended.resolve(byUser ? closing.then(undefined, keepCancellation) : closing)
    const task = Task[kCreate](this, () => ended.promise, child.name ?? `Child-${++this.#created}`)
    this.#live.add(task)
    this.#children.set(task, child)
    this.#childTasks.add(task)
    if (this.#reason !== undefined) child.#cancel(this.#reason, 'parent')
    task[kStart]()
    // Made while this group waits for nothing but its children: nothing else will close it.
    if (this.#joining !== undefined && this.#live.size === this.#children.size) child[kCloseAsChild]()
    return child
  }

  /**
   * Cancels every task now: running tasks see their signal abort with a {@link CancelledError}
   * (whose `cause` is `reason`), queued tasks never start. `close()` then resolves, unless a task
   * failed. No effect on a group already cancelled.
   */
  cancel(reason?: unknown): void {
    this.#cancel(toCancelledError(reason, 'The task group was cancelled'), 'user')
  }

  /**
   * Waits for every task to settle (tasks may still be added meanwhile), then refuses new ones.
   * Rejects with a {@link TaskGroupError} listing the failures nobody observed; else with the
   * {@link CancelledError}/{@link TimeoutError} if the parent signal or the timeout cancelled the
   * group; else resolves. Idempotent: every call returns the same promise.
   */
  close(): Promise<void> {
    return (this.#closing ??= this.#closeBy(true))
  }

  /** @internal The parent closes its child. */
  [kCloseAsChild](): void {
    this.#closing ??= this.#closeBy(false)
  }

  #closeBy(user: boolean): Promise<void> {
    const closing = this.#close()
    this.#onClose?.(closing, user)
    return closing
  }

  /** @internal What `currentTaskGroup()` returns in a task of this group. */
  [kCurrentGroup](): TaskGroup {
    return this
  }

  /** @internal A child was cancelled by a failure: so is this group (unless it is a supervisor). */
  [kChildFailed](reason: CancelledError): void {
    if (this.#failFast) this.#cancel(reason, 'failure')
  }

  /** `await using group = new TaskGroup()` calls `close()` at the end of the block. */
  [Symbol.asyncDispose](): Promise<void> {
    return this.close()
  }

  async #close(): Promise<void> {
    const failed = await this.#join()
    if (failed !== undefined) throw failed
    if (this.#cancelKind === 'parent' || this.#cancelKind === 'timeout') throw this.#reason
  }

  /** Waits for every task, refuses new ones, and returns the failures nobody observed (once). */
  #join(): Promise<TaskGroupError | undefined> {
    return (this.#joining ??= this.#joinOnce())
  }

  async #joinOnce(): Promise<TaskGroupError | undefined> {
    while (this.#live.size > 0) {
      // Only children left: nothing of this group can add tasks to them any more.
      if (this.#live.size === this.#children.size) for (const child of this.#children.values()) child[kCloseAsChild]()
      this.#idle = deferred()
      await this.#idle.promise
    }
    this.#closed = true
    this.#detach()
    const unobserved = this.#failures.filter((task) => !task[kObserved])
    this.#failures = []
    if (unobserved.length === 0) return undefined
    // A child's failures are listed as this group's own, not wrapped in the child's TaskGroupError.
    const errors = unobserved.flatMap((task) => (this.#childTasks.has(task) ? (task[kError] as TaskGroupError).errors : [task[kError]]))
    return new TaskGroupError(
      errors,
      `${unobserved.length} task${unobserved.length === 1 ? '' : 's'} of the group${this.name ? ` "${this.name}"` : ''} failed: ${unobserved.map((task) => task.name).join(', ')}`,
    )
  }

  /** @internal Its tasks not settled yet (running and queued), for `runtime.inspect()`. */
  get [kLiveTasks](): ReadonlySet<Task<unknown>> {
    return this.#live
  }

  /** @internal Why it was cancelled, if it was. */
  get [kCancelKind](): CancelKind | undefined {
    return this.#cancelKind
  }

  /** @internal Bookkeeping when a task settles: free its slot, start the next, react to a failure. */
  [kTaskSettled](task: Task<unknown>, wasRunning: boolean, failed: boolean): void {
    this.#live.delete(task)
    // A failure cancels the group first, so the slot it frees starts nothing.
    if (failed) {
      this.#failures.push(task)
      if (this.#failFast) {
        const what = this.#childTasks.has(task) ? 'Child group' : 'Task'
        this.#cancel(new CancelledError(`${what} "${task.name}" failed, so its siblings were cancelled`, { cause: task[kError] }), 'failure')
      }
    }
    if (this.#children.delete(task)) {
      // A child takes no slot.
    } else if (wasRunning) {
      this.#running--
      this.#startQueued()
    }
    if (this.#idle !== undefined && this.#live.size === this.#children.size) this.#idle.resolve()
  }

  #startQueued(): void {
    // Once cancelled, queued tasks are being cancelled too (possibly right now, mid-iteration).
    if (this.#reason !== undefined) return
    const queue = this.#queue
    while (this.#queueHead < queue.length && this.#running < this.#limit) {
      const { task, run } = queue[this.#queueHead]!
      queue[this.#queueHead++] = undefined!
      if (task.status !== 'queued') continue
      this.#running++
      run(() => enterGroup(this, startTaskNow, task))
    }
    if (this.#queueHead === queue.length) {
      queue.length = 0
      this.#queueHead = 0
    }
  }

  #cancel(reason: CancelledError, kind: CancelKind): void {
    if (this.#reason !== undefined) return
    this.#reason = reason
    this.#cancelKind = kind
    if (groupCancelChannel.hasSubscribers) groupCancelChannel.publish({ group: this, reason, source: kind })
    this.#detach()
    this.#controller?.abort(reason)
    // The group aborts its children itself: no per-task listener on any signal.
    for (const task of this.#live) task[kAbort](reason)
    for (const child of this.#children.values()) child.#cancel(reason, 'parent')
    if (kind === 'failure') this.#parentGroup?.[kChildFailed](reason)
  }

  #closedError(): ClosedError {
    return new ClosedError(`The task group${this.name ? ` "${this.name}"` : ''} is closed`)
  }

  #detach(): void {
    this.#parent?.removeEventListener('abort', this.#onParentAbort)
    if (this.#timer !== undefined) clearTimeout(this.#timer)
    this.#timer = undefined
  }

  #onParentAbort = (): void => {
    this.#cancel(toCancelledError(this.#parent!.reason, 'The parent signal was aborted'), 'parent')
  }

  #onTimeout = (timeout: number): void => {
    this.#cancel(new TimeoutError(`The task group${this.name ? ` "${this.name}"` : ''} timed out after ${timeout} ms`), 'timeout')
  }
}

/**
 * Nexios' `async for` form: yields one new {@link TaskGroup} and closes it when the loop body ends.
 *
 * @example
 * ```ts
 * for await (const group of createTaskGroup({ limit: 4 })) {
 *   for (const url of urls) group.createTask((signal) => fetch(url, { signal }))
 * }
 * ```
 */
export function createTaskGroup(options?: TaskGroupOptions): AsyncGenerator<TaskGroup, void, undefined> {
  const group = new TaskGroup(options) // validates now, at the call, not at the first iteration
  return (async function* scope() {
    try {
      yield group
    } finally {
      await group.close()
    }
  })()
}
