// `TaskGroup`: a scope for concurrent tasks. The class holds the group's state and every decision
// about it; each satellite below does one job for it, and is given the group (or what it needs of
// it) as an argument:
//   task-group-options.ts   the public options of a group and of a child group
//   task-group-run.ts       `TaskGroup.run`: how it settles once its body returned or threw
//   task-group-start.ts     `group.start()`: the ready() handshake (anyio's, Trio's start)
//   task-group-watch.ts     what cancels a group from outside: its parent signal and its timeout
//   task-group-children.ts  the bookkeeping of its child groups (`group.child()`)
//   task-queue.ts           tasks waiting for a slot under `limit`
//   task.ts                 one task; current-task-group.ts: the group the running code is in
import { AsyncLocalStorage } from 'node:async_hooks'
import { setMaxListeners } from 'node:events'
import { type CancelledError, ClosedError, TaskGroupError } from '../errors.js'
import { failureCancellation, toCancelledError } from '../internal/cancel.js'
import { groupCancelChannel } from '../internal/channels.js'
import { type Deferred, deferred } from '../internal/deferred.js'
import { LinkedList } from '../internal/linked-list.js'
import { isWork } from '../internal/run-work.js'
import {
  kAbort,
  kCancel,
  kCancelKind,
  kCloseAsChild,
  kCloseNow,
  kCreate,
  kCurrentGroup,
  kError,
  kImposedCancellation,
  kJoin,
  kLiveTasks,
  kObserved,
  kStart,
  kTaskSettled,
} from '../internal/symbols.js'
import {
  copyOptions,
  invalidType,
  validateBoolean,
  validateDuration,
  validateInteger,
  validateSignal,
  validateString,
} from '../internal/validation.js'
import { enterGroup } from './current-task-group.js'
import { Task, type TaskOptions, type TaskWork } from './task.js'
import { ChildGroups, childOutcome } from './task-group-children.js'
import type { ChildTaskGroupOptions, TaskGroupOptions } from './task-group-options.js'
import { runIn } from './task-group-run.js'
import { type StartWork, startTask } from './task-group-start.js'
import { GroupWatch } from './task-group-watch.js'
import { type QueuedTask, TaskQueue } from './task-queue.js'

/** Why a group was cancelled (read by `runtime.stats()` through `kCancelKind`). */
export type CancelKind = 'user' | 'parent' | 'timeout' | 'failure'

const startTaskNow = (task: Task<unknown>): void => task[kStart]()
/** A group still to cancel, with the reason and why. */
type CancelStep = [TaskGroup, CancelledError | (() => CancelledError), CancelKind]
const noTasks: readonly Task<unknown>[] = []
const closedCleanly = Object.freeze({ error: undefined })

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
  // Why it was cancelled, or how to make that reason: a request group that ends with nothing
  // running builds its RequestFinishedError only if somebody asks (its signal, a late task).
  #cancellation: CancelledError | (() => CancelledError) | undefined
  #cancelKind: CancelKind | undefined
  #limit: number
  #watch: GroupWatch | undefined // its parent signal and timeout, if given
  #deadline: number | undefined
  #live: LinkedList<Task<unknown>> | undefined // made with the first task
  #queue: TaskQueue | undefined
  #running = 0
  #created = 0
  #failures: Task<unknown>[] | undefined
  #failFast: boolean
  #parentGroup: TaskGroup | undefined
  #children: ChildGroups | undefined
  #ended: Deferred<void> | undefined // a child's: what its task in the parent waits for
  #idle: Deferred<void> | undefined
  #closing: Promise<void> | undefined
  #joining: Promise<TaskGroupError | undefined> | undefined
  #joined: { failed: TaskGroupError | undefined } | undefined // closed at once, by kCloseNow
  #closed = false

  constructor(options?: TaskGroupOptions) {
    const opts = copyOptions(options, 'The TaskGroup options')
    const signal = validateSignal(opts.signal, 'The "signal" option')
    this.#limit = validateInteger(opts.limit, 'The "limit" option', 1, true) ?? Infinity
    const timeout = validateDuration(opts.timeout, 'The "timeout" option')
    this.name = validateString(opts.name, 'The "name" option')
    this.#failFast = validateBoolean(opts.failFast, 'The "failFast" option') ?? true
    if (timeout !== undefined) this.#deadline = Date.now() + timeout
    if (signal !== undefined || timeout !== undefined) this.#watch = new GroupWatch(this, signal, timeout)
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
    return runIn(new TaskGroup(options), fn)
  }

  /** Aborts when the group is cancelled (by `cancel()`, a failure, the parent signal or the timeout). */
  get signal(): AbortSignal {
    if (this.#controller === undefined) {
      this.#controller = new AbortController()
      setMaxListeners(0, this.#controller.signal)
      if (this.#cancellation !== undefined) this.#controller.abort(this.#reason)
    }
    return this.#controller.signal
  }

  /** Number of tasks not settled yet (running and queued). */
  get size(): number {
    return this.#live?.size ?? 0
  }

  /** True once `close()` has finished: `createTask` then throws {@link ClosedError}. */
  get closed(): boolean {
    return this.#closed
  }

  /** True once the group has been cancelled, for whatever reason. */
  get cancelled(): boolean {
    return this.#cancellation !== undefined
  }

  /** The cancellation reason, made now if it was left to be made on demand. */
  get #reason(): CancelledError | undefined {
    const cancellation = this.#cancellation
    if (typeof cancellation !== 'function') return cancellation
    return (this.#cancellation = cancellation())
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
    // `Task-<n>` is numbered now and spelled out only if somebody reads it.
    const name =
      (options === undefined ? undefined : validateString(options.name, 'The "name" option')) ??
      (typeof work === 'function' ? work.name : '')
    const task = Task[kCreate](this, work, name, name === '' ? ++this.#created : 0) as Task<Awaited<T>>
    ;(this.#live ??= new LinkedList()).add(task)
    if (this.#cancellation !== undefined) {
      task[kAbort](this.#reason!)
    } else if (this.#running < this.#limit) {
      this.#running++
      enterGroup(this, startTaskNow, task)
    } else {
      // Queued work starts later, from whichever task frees the slot: keep its caller's context.
      ;(this.#queue ??= new TaskQueue()).push({ task, run: AsyncLocalStorage.snapshot() })
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
    // A loop, not a recursion through parents: any nesting depth works.
    let deadline: number | undefined
    for (let group: TaskGroup | undefined = this; group !== undefined; group = group.#parentGroup) {
      const own = group.#deadline
      if (own !== undefined && (deadline === undefined || own < deadline)) deadline = own
    }
    return deadline
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
    const ended = (child.#ended = deferred<void>())
    const task = Task[kCreate](this, () => ended.promise, child.name ?? `Child-${++this.#created}`, 0)
    const children = (this.#children ??= new ChildGroups())
    const live = (this.#live ??= new LinkedList())
    live.add(task)
    children.add(task, child)
    if (this.#cancellation !== undefined) child[kCancel](this.#reason!, 'parent')
    task[kStart]()
    // Made while this group waits for nothing but its children: nothing else will close it.
    if (this.#joining !== undefined && live.size === children.size) child[kCloseAsChild]()
    return child
  }

  /**
   * Cancels every task now: running tasks see their signal abort with a {@link CancelledError}
   * (whose `cause` is `reason`), queued tasks never start. `close()` then resolves, unless a task
   * failed. No effect on a group already cancelled.
   */
  cancel(reason?: unknown): void {
    this[kCancel](toCancelledError(reason, 'The task group was cancelled'), 'user')
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
    this.#ended?.resolve(childOutcome(closing, user))
    return closing
  }

  /** @internal What `currentTaskGroup()` returns in a task of this group. */
  [kCurrentGroup](): TaskGroup {
    return this
  }

  /** `await using group = new TaskGroup()` calls `close()` at the end of the block. */
  [Symbol.asyncDispose](): Promise<void> {
    return this.close()
  }

  async #close(): Promise<void> {
    const failed = await this[kJoin]()
    if (failed !== undefined) throw failed
    if (this[kImposedCancellation] !== undefined) throw this.#reason
  }

  /** @internal Waits for every task, refuses new ones, and returns the failures nobody observed (once). */
  [kJoin](): Promise<TaskGroupError | undefined> {
    return (this.#joining ??= this.#joined === undefined ? this.#joinOnce() : Promise.resolve(this.#joined.failed))
  }

  async #joinOnce(): Promise<TaskGroupError | undefined> {
    while (this.size > 0) {
      // Only children left: nothing of this group can add tasks to them any more.
      if (this.size === this.#children?.size) this.#children.closeAll()
      this.#idle = deferred()
      await this.#idle.promise
    }
    return this.#seal()
  }

  /** Refuses new tasks from now on; returns the failures nobody observed (once). */
  #seal(): TaskGroupError | undefined {
    this.#closed = true
    this.#watch?.detach()
    const failures = this.#failures
    this.#failures = undefined
    return failures === undefined ? undefined : this.#unobservedFailures(failures)
  }

  /** The TaskGroupError of the failed tasks nobody observed, or undefined when there is none. */
  #unobservedFailures(failures: Task<unknown>[]): TaskGroupError | undefined {
    const unobserved = failures.filter((task) => !task[kObserved])
    if (unobserved.length === 0) return undefined
    // A child's failures are listed as this group's own, not wrapped in the child's TaskGroupError.
    const children = this.#children
    const errors = unobserved.flatMap((task) => (children?.isChild(task) ? (task[kError] as TaskGroupError).errors : [task[kError]]))
    const names = unobserved.map((task) => task.name).join(', ')
    const count = `${unobserved.length} task${unobserved.length === 1 ? '' : 's'}`
    return new TaskGroupError(errors, `${count} of the group${this.name ? ` "${this.name}"` : ''} failed: ${names}`)
  }

  /**
   * @internal Closes now, without a promise, when no task is left and nobody began closing: what
   * `close()` would reject with (`{ error }`, `error` undefined when it would resolve). Undefined
   * when the group cannot close at once; then `close()` is the way.
   */
  [kCloseNow](): { error: unknown } | undefined {
    if (this.size > 0 || this.#joining !== undefined || this.#joined !== undefined) return undefined
    const failed = this.#seal()
    const error = failed ?? this[kImposedCancellation]
    this.#joined = { failed }
    return error === undefined ? closedCleanly : { error }
  }

  /** @internal The parent signal's or the timeout's cancellation, which `close()` and `run` rethrow. */
  get [kImposedCancellation](): CancelledError | undefined {
    return this.#cancelKind === 'parent' || this.#cancelKind === 'timeout' ? this.#reason : undefined
  }

  /** @internal Its tasks not settled yet (running and queued), for `runtime.inspect()`. */
  get [kLiveTasks](): Iterable<Task<unknown>> {
    return this.#live ?? noTasks
  }

  /** @internal Why it was cancelled, if it was. */
  get [kCancelKind](): CancelKind | undefined {
    return this.#cancelKind
  }

  /** @internal Bookkeeping when a task settles: free its slot, start the next, react to a failure. */
  [kTaskSettled](task: Task<unknown>, wasRunning: boolean, failed: boolean): void {
    this.#live!.delete(task)
    // A failure cancels the group first, so the slot it frees starts nothing.
    if (failed) {
      ;(this.#failures ??= []).push(task)
      if (this.#failFast) {
        const what = this.#children?.isChild(task) ? 'Child group' : 'Task'
        this[kCancel](failureCancellation(`${what} "${task.name}" failed, so its siblings were cancelled`, task[kError]), 'failure')
      }
    }
    if (this.#children?.settled(task)) {
      // A child takes no slot.
    } else if (wasRunning) {
      this.#running--
      this.#startQueued()
    }
    if (this.#idle !== undefined && this.#live!.size === (this.#children?.size ?? 0)) this.#idle.resolve()
  }

  #startQueued(): void {
    // Once cancelled, queued tasks are being cancelled too (possibly right now, mid-iteration).
    if (this.#cancellation !== undefined || this.#queue === undefined) return
    let next: QueuedTask | undefined
    while (this.#running < this.#limit && (next = this.#queue.shift()) !== undefined) {
      const { task, run } = next
      if (task.status !== 'queued') continue
      this.#running++
      run(() => enterGroup(this, startTaskNow, task))
    }
  }

  /**
   * @internal Cancels with a ready-made reason, or a function that makes it when somebody first
   * needs it (nothing running, nobody holding the signal: nothing is built), saying why. No
   * effect on a group already cancelled.
   */
  [kCancel](reason: CancelledError | (() => CancelledError), kind: CancelKind): void {
    if (this.#cancellation !== undefined) return
    // Down to every child group, and (a failure) up to each fail-fast parent: with a stack of
    // groups still to cancel, not a recursion, so that any nesting depth works. Same order as a
    // recursion: a group, then its children depth first, then its parent.
    const pending: CancelStep[] = [[this, reason, kind]]
    for (let step = pending.pop(); step !== undefined; step = pending.pop()) step[0].#cancelOne(step[1], step[2], pending)
  }

  #cancelOne(reason: CancelledError | (() => CancelledError), kind: CancelKind, pending: CancelStep[]): void {
    if (this.#cancellation !== undefined) return
    this.#cancellation = reason
    this.#cancelKind = kind
    this.#watch?.detach()
    if (groupCancelChannel.hasSubscribers) groupCancelChannel.publish({ group: this, reason: this.#reason, source: kind })
    if (this.#controller !== undefined) this.#controller.abort(this.#reason)
    const parent = this.#parentGroup
    if (kind === 'failure' && parent !== undefined && parent.#failFast) pending.push([parent, this.#reason!, 'failure'])
    // The group aborts its children itself: no per-task listener on any signal.
    if (this.#live !== undefined && this.#live.size > 0) {
      const made = this.#reason!
      for (const task of this.#live) task[kAbort](made)
      const children = this.#children?.groups()
      if (children !== undefined) for (let i = children.length - 1; i >= 0; i--) pending.push([children[i]!, made, 'parent'])
    }
  }

  #closedError(): ClosedError {
    return new ClosedError(`The task group${this.name ? ` "${this.name}"` : ''} is closed`)
  }
}
