// What cancels a TaskGroup from outside: its parent signal and its timeout. Made only for a group
// given one of them. It is the abort listener itself (`handleEvent`) and the timer's argument, so
// it costs no closure.
import { TimeoutError } from '../errors.js'
import { toCancelledError } from '../internal/cancel.js'
import { kCancel } from '../internal/symbols.js'
import type { TaskGroup } from './task-group.js'

/** @internal Watches a group's parent signal and timeout until `detach()`. */
export class GroupWatch {
  #group: TaskGroup
  #signal: AbortSignal | undefined
  #timer: NodeJS.Timeout | undefined

  constructor(group: TaskGroup, signal: AbortSignal | undefined, timeout: number | undefined) {
    this.#group = group
    this.#signal = signal
    if (signal?.aborted) {
      this.handleEvent()
    } else {
      signal?.addEventListener('abort', this, { once: true })
      if (timeout !== undefined) this.#timer = setTimeout(onTimeout, timeout, this.#group, timeout)
    }
  }

  /** The parent signal aborted. */
  handleEvent(): void {
    this.#group[kCancel](toCancelledError(this.#signal!.reason, 'The parent signal was aborted'), 'parent')
  }

  /** Stops watching: the group was cancelled, or has closed. */
  detach(): void {
    this.#signal?.removeEventListener('abort', this)
    if (this.#timer !== undefined) clearTimeout(this.#timer)
    this.#timer = undefined
  }
}

function onTimeout(group: TaskGroup, timeout: number): void {
  group[kCancel](new TimeoutError(`The task group${group.name ? ` "${group.name}"` : ''} timed out after ${timeout} ms`), 'timeout')
}
