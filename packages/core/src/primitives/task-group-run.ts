// `TaskGroup.run`: how it settles once its body has returned or thrown and the tasks are done
// (the rules are those of its TSDoc, in task-group.ts).
import { isCancellation, TaskGroupError } from '../errors.js'
import { kImposedCancellation, kJoin } from '../internal/symbols.js'
import type { TaskGroup } from './task-group.js'

/** @internal `TaskGroup.run` once it has made its group: runs `fn` with it, then settles by the rules. */
export async function runIn<T>(group: TaskGroup, fn: (group: TaskGroup) => T | PromiseLike<T>): Promise<Awaited<T>> {
  let value: Awaited<T>
  try {
    value = await fn(group)
  } catch (error) {
    return exitWith(group, error) as Promise<Awaited<T>>
  }
  return exitAfter(group, value)
}

/** How `run` ends when its body returned `value`. */
async function exitAfter<T>(group: TaskGroup, value: T): Promise<T> {
  // A cancellation the body saw and chose to ignore does not undo its value; one that comes from
  // the parent signal or the timeout while `run` waits for the tasks interrupts that wait.
  const cancelledBefore = group.cancelled
  const failed = await group[kJoin]()
  if (failed !== undefined) throw failed
  const imposed = group[kImposedCancellation]
  if (!cancelledBefore && imposed !== undefined) throw imposed
  return value
}

/** How `run` ends when its body threw `error`. */
async function exitWith(group: TaskGroup, error: unknown): Promise<undefined> {
  // Decided before cancelling: was this the group's own cancellation surfacing in the body?
  const groupCancellation = group.cancelled && isCancellation(error)
  if (!groupCancellation) group.cancel(error)
  const failed = await group[kJoin]()
  if (!isCancellation(error)) {
    if (failed === undefined) throw error
    throw new TaskGroupError([error, ...failed.errors], `The body of TaskGroup.run failed, and ${failed.message}`)
  }
  if (failed !== undefined) throw failed
  if (!groupCancellation) throw error
  const imposed = group[kImposedCancellation]
  if (imposed !== undefined) throw imposed
  return undefined
}
