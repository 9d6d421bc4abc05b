// Which task group runs the current code, and which AbortSignal `currentSignal()` gives there. One
// AsyncLocalStorage for the whole library, whose store is entered once per request (by the adapter,
// with the request object itself: no allocation) and once per task only when the store does not
// already name the task's group: the tasks of a request's own group, the common case, enter
// nothing. A store entered that way costs a context frame on Node 24 (AsyncContextFrame) and is
// free to read; see BENCHMARKS.md for Node 20. Once something in the process asks for
// `currentSignal()` (`enableScopes`), every task enters a scope of its own instead (a small object
// naming its group and itself), and so do background tasks and race entries: that is the cost of
// a signal per task, paid only by a process that uses it.
import { AsyncLocalStorage } from 'node:async_hooks'
import { setMaxListeners } from 'node:events'
import { kCurrentGroup, kCurrentSignal } from '../internal/symbols.js'
import type { Task } from './task.js'
import type { TaskGroup } from './task-group.js'

/**
 * @internal What the store holds: a TaskGroup (which names itself), or an adapter's request
 * object, whose group is created on first use (`create`), or only peeked at; or one of the scopes
 * below, which also say what `currentSignal()` is (without it: the group's signal).
 */
export interface GroupScope {
  [kCurrentGroup](create: boolean): TaskGroup | undefined
  [kCurrentSignal]?(): AbortSignal | undefined
}

/** A task's own scope: its group for `currentTaskGroup()`, its own signal for `currentSignal()`. */
class TaskScope implements GroupScope {
  readonly #group: TaskGroup
  readonly #task: Task<unknown>
  #signal: AbortSignal | undefined

  constructor(group: TaskGroup, task: Task<unknown>) {
    this.#group = group
    this.#task = task
  }

  [kCurrentGroup](): TaskGroup {
    return this.#group
  }

  [kCurrentSignal](): AbortSignal {
    // Made on first use (zero-parameter work has none until asked); every call under this task
    // (each fetch, each query) adds a listener: no warning past ten of them.
    if (this.#signal === undefined) setMaxListeners(0, (this.#signal = this.#task.signal))
    return this.#signal
  }
}

/**
 * A scope that changes only the signal: a background task's (no group), a race entry's (the
 * group around it), a shield's (no signal).
 */
class SignalScope implements GroupScope {
  readonly #outer: GroupScope | undefined
  readonly #signal: AbortSignal | undefined

  constructor(outer: GroupScope | undefined, signal: AbortSignal | undefined) {
    this.#outer = outer
    this.#signal = signal
  }

  [kCurrentGroup](create: boolean): TaskGroup | undefined {
    return this.#outer?.[kCurrentGroup](create)
  }

  [kCurrentSignal](): AbortSignal | undefined {
    return this.#signal
  }
}

const storage = new AsyncLocalStorage<GroupScope | undefined>()

// Whether tasks, background tasks and race entries enter scopes of their own (see enableScopes).
let scopesEnabled = false

/** @internal Turns on the scopes `currentSignal()` needs, for the rest of the process. Idempotent. */
export function enableScopes(): void {
  scopesEnabled = true
}

/** @internal Whether {@link enableScopes} has run. */
export function scopesOn(): boolean {
  return scopesEnabled
}

/**
 * @internal The signal of the innermost scope: the scope's own, else its group's (a request's
 * group is created here if it was not yet); undefined outside any scope and in a shield.
 */
export function scopeSignal(): AbortSignal | undefined {
  const store = storage.getStore()
  if (store === undefined) return undefined
  const own = store[kCurrentSignal]
  return own !== undefined ? own.call(store) : store[kCurrentGroup](true)?.signal
}

/**
 * The task group whose task runs the current code, wherever it is in the async call tree of that
 * task's work; inside a request handler (and everything it calls) the request's group, created on
 * first use; in the body of `TaskGroup.run` (which is not a task) the group around it, if any.
 * `undefined` elsewhere: at the top level, and in background tasks, `after` and `waitUntil` work,
 * which belong to no group. Never throws.
 *
 * So a service function deep in a request can start work in the request's group without the group
 * being passed down through every call.
 *
 * @example
 * ```ts
 * export async function loadProfile(userId: string) {
 *   const group = currentTaskGroup() ?? new TaskGroup()
 *   const avatar = group.createTask((signal) => fetchAvatar(userId, { signal }))
 *   return { user: await getUser(userId), avatar: await avatar }
 * }
 * ```
 */
export function currentTaskGroup(): TaskGroup | undefined {
  return storage.getStore()?.[kCurrentGroup](true)
}

/**
 * @internal Calls `fn(task)` where `currentTaskGroup()` is `group`. Enters the store only when it
 * does not already name that group (without creating a request's group to find out); once scopes
 * are on, always, with a scope of the task's own.
 */
export function enterGroup<A extends Task<unknown>>(group: TaskGroup, fn: (arg: A) => void, arg: A): void {
  if (scopesEnabled) return storage.run(new TaskScope(group, arg), fn, arg)
  const store = storage.getStore()
  if (store === group || (store !== undefined && store[kCurrentGroup](false) === group)) return fn(arg)
  storage.run(group, fn, arg)
}

/** @internal Calls `fn()` where `currentTaskGroup()` is what `scope` names (an adapter's request object). */
export function runInScope<R>(scope: GroupScope, fn: () => R): R {
  return storage.run(scope, fn)
}

/**
 * @internal Calls `fn(...args)` outside any group (background work), keeping every other
 * AsyncLocalStorage store of the caller; once scopes are on, where `currentSignal()` is `signal`
 * (the background task's own).
 */
export function detached<A extends unknown[]>(signal: AbortSignal, fn: (...args: A) => void, ...args: A): void {
  if (scopesEnabled) {
    setMaxListeners(0, signal)
    return storage.run(new SignalScope(undefined, signal), fn, ...args)
  }
  if (storage.getStore() === undefined) return fn(...args)
  storage.run(undefined, fn, ...args)
}

/**
 * @internal Calls `fn(...args)` where `currentSignal()` is `signal` (undefined: none, a shield)
 * and `currentTaskGroup()` stays what it is.
 */
export function withSignal<R, A extends unknown[]>(signal: AbortSignal | undefined, fn: (...args: A) => R, ...args: A): R {
  return storage.run(new SignalScope(storage.getStore(), signal), fn, ...args)
}
