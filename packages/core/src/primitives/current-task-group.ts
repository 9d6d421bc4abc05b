// Which task group runs the current code. One AsyncLocalStorage for the whole library, whose store
// is entered once per request (by the adapter, with the request object itself: no allocation) and
// once per task only when the store does not already name the task's group: the tasks of a
// request's own group, the common case, enter nothing. A store entered that way costs a context
// frame on Node 24 (AsyncContextFrame) and is free to read; see BENCHMARKS.md for Node 20.
import { AsyncLocalStorage } from 'node:async_hooks'
import { kCurrentGroup } from '../internal/symbols.js'
import type { TaskGroup } from './task-group.js'

/**
 * @internal What the store holds: a TaskGroup (which names itself), or an adapter's request
 * object, whose group is created on first use (`create`), or only peeked at.
 */
export interface GroupScope {
  [kCurrentGroup](create: boolean): TaskGroup | undefined
}

const storage = new AsyncLocalStorage<GroupScope | undefined>()

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
 * @internal Calls `fn(arg)` where `currentTaskGroup()` is `group`. Enters the store only when it
 * does not already name that group (without creating a request's group to find out).
 */
export function enterGroup<A>(group: TaskGroup, fn: (arg: A) => void, arg: A): void {
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
 * AsyncLocalStorage store of the caller.
 */
export function detached<A extends unknown[]>(fn: (...args: A) => void, ...args: A): void {
  if (storage.getStore() === undefined) return fn(...args)
  storage.run(undefined, fn, ...args)
}
