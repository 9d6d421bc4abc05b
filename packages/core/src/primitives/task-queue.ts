// The tasks of a group waiting for a slot of its `limit`, in FIFO order. Made when the first task
// has to wait: a group under its limit pays for none of this.
import type { Task } from './task.js'

/** @internal A queued task, and the context of its caller to start it in. */
export interface QueuedTask {
  task: Task<unknown>
  run: (fn: () => void) => void
}

/** @internal A FIFO queue that reads from a moving head, and empties the array once all is read. */
export class TaskQueue {
  #items: QueuedTask[] = []
  #head = 0

  push(entry: QueuedTask): void {
    this.#items.push(entry)
  }

  /** The next entry, or undefined when none is left. */
  shift(): QueuedTask | undefined {
    const items = this.#items
    if (this.#head === items.length) return undefined
    const entry = items[this.#head]!
    items[this.#head++] = undefined!
    if (this.#head === items.length) {
      items.length = 0
      this.#head = 0
    }
    return entry
  }
}
