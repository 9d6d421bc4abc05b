// `group.start(work)`: the handshake of anyio's and Trio's `start()`. The work runs as a task of
// the group; the caller waits until it says it is ready, with a value. Until then the task belongs
// to the caller: what it throws goes to the caller of `start` only, not to the group.
import { codedError, errorCodes, isCancellation } from '../errors.js'
import { deferred } from '../internal/deferred.js'
import { kError, kWhenSettled } from '../internal/symbols.js'
import { invalidType, isPromiseLike, validateString } from '../internal/validation.js'
import type { Task, TaskOptions } from './task.js'

/**
 * What `group.start()` runs: called with the task's AbortSignal and `ready`, which it calls once
 * it is ready (a server listening, a subscription made), with the value `start` resolves with.
 */
export type StartWork<T> = (signal: AbortSignal, ready: (value?: T) => void) => unknown

/** @internal What `startTask` needs of the group. */
export interface StartHost {
  createTask(work: (signal: AbortSignal) => unknown, options?: TaskOptions): Task<unknown>
}

/** @internal The implementation of `TaskGroup.prototype.start`. */
export function startTask<T>(group: StartHost, work: StartWork<T>, options: TaskOptions | undefined): Promise<T> {
  if (typeof work !== 'function') return Promise.reject(invalidType('The "work" argument', 'a function', work))
  const started = deferred<T>()
  let pending = true
  const ready = (value?: T): void => {
    if (!pending) return // later calls do nothing, as in anyio
    pending = false
    started.resolve(value as T)
  }
  const fail = (error: unknown): void => {
    pending = false
    started.reject(error)
  }
  // Before `ready`, a failure is the caller's: the task ends fulfilled, the group never sees it.
  // A cancellation still ends the task cancelled; `start` rejects with it below.
  const early = (error: unknown): undefined => {
    if (!pending || isCancellation(error)) throw error
    fail(error)
    return undefined
  }
  const returned = (value: unknown): unknown => {
    if (pending) fail(codedError(Error, errorCodes.taskNotStarted, `The work given to start()${label} returned before it called ready()`))
    return value
  }
  const run = (signal: AbortSignal): unknown => {
    let result: unknown
    let promised: boolean
    try {
      result = work(signal, ready)
      promised = isPromiseLike(result) // reads `then`, which may throw: an early failure like any other
    } catch (error) {
      return early(error)
    }
    return promised ? Promise.resolve(result).then(returned, early) : returned(result)
  }
  let task: Task<unknown>
  let label = ''
  try {
    const name = validateString(options?.name, 'The "name" option') ?? (work.name || undefined)
    if (name !== undefined) label = ` ("${name}")`
    // The task carries the work's name, or `Task-<n>`: never the name of the wrapper above.
    task = group.createTask(run, { name: name ?? '' })
  } catch (error) {
    return Promise.reject(error)
  }
  // Cancelled before `ready` (while queued, or with the group): `start` rejects with the cancellation.
  if (pending) {
    void task[kWhenSettled]().then(() => {
      if (pending) fail(task[kError])
    })
  }
  return started.promise
}
