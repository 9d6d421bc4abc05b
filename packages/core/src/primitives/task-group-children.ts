// The child groups of a TaskGroup (`group.child()`): each one is a task of its parent, which
// settles when the child has closed. Made on the first `child()` call: a group without children
// pays for none of this.
import { isCancellation } from '../errors.js'
import type { Task } from './task.js'
import type { TaskGroup } from './task-group.js'

/** A child closed by its user: they got its failures; only its cancellation reaches the parent. */
const keepCancellation = (error: unknown): void => {
  if (isCancellation(error)) throw error
}

/** @internal What a child's task in its parent settles with, once the child has closed. */
export function childOutcome(closing: Promise<void>, byUser: boolean): Promise<void> {
  return byUser ? closing.then(undefined, keepCancellation) : closing
}

/** @internal A group's child groups, by their task in the group: the bookkeeping; the group closes and cancels them itself. */
export class ChildGroups {
  #live = new Map<Task<unknown>, TaskGroup>()
  // Every child's task, settled or not: a child's failures are reported as its parent's own.
  #tasks = new WeakSet<Task<unknown>>()

  /** How many children have not closed yet. */
  get size(): number {
    return this.#live.size
  }

  add(task: Task<unknown>, child: TaskGroup): void {
    this.#live.set(task, child)
    this.#tasks.add(task)
  }

  /** Whether `task` is (or was) the task of a child group. */
  isChild(task: Task<unknown>): boolean {
    return this.#tasks.has(task)
  }

  /** Forgets the child of a settled task; false when `task` is not a child's. */
  settled(task: Task<unknown>): boolean {
    return this.#live.delete(task)
  }

  /** The children that have not closed yet (the parent closes or cancels them). */
  [Symbol.iterator](): IterableIterator<TaskGroup> {
    return this.#live.values()
  }
}
