// The child groups of a TaskGroup (`group.child()`): each one is a task of its parent, which
// settles when the child has closed. Made on the first `child()` call: a group without children
// pays for none of this.
import { isCancellation } from '../errors.js'
import { kCloseAsChild } from '../internal/symbols.js'
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

  /** The parent waits for nothing else: nothing of it can add tasks to its children any more. */
  closeAll(): void {
    closeChildren(this.#live.values())
  }

  /** The children not closed yet, in the order they were made. */
  groups(): TaskGroup[] {
    return [...this.#live.values()]
  }
}

// Closing a child can close its own children at once, and so on down: the groups still to close
// wait in this list, which the outermost call works through. No recursion, so any nesting depth works.
let closing: TaskGroup[] | undefined

function closeChildren(children: Iterable<TaskGroup>): void {
  if (closing !== undefined) {
    closing.push(...children)
    return
  }
  closing = [...children]
  try {
    for (let i = 0; i < closing.length; i++) closing[i]![kCloseAsChild]()
  } finally {
    closing = undefined
  }
}
