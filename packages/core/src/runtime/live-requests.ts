// The runtime's live requests. An intrusive list rather than a Map: a long-lived Map that
// every request enters and leaves keeps each request's objects alive through young-generation
// collections (measured on Node 24: ~1 KB promoted to the old generation per request, a third of
// the request path's CPU going to the collector). Here the runtime holds only the list's ends.
import type { TaskGroup } from '../primitives/task-group.js'

/** @internal What the list links: a request record. */
export interface LiveRequest {
  readonly group: TaskGroup
  readonly method: string
  readonly url: string
  readonly startedAt: number
  previous: LiveRequest | undefined
  next: LiveRequest | undefined
}

/** @internal The requests whose group has not closed yet, oldest first. */
export class LiveRequests implements Iterable<LiveRequest> {
  #first: LiveRequest | undefined
  #last: LiveRequest | undefined
  #size = 0

  get size(): number {
    return this.#size
  }

  add(request: LiveRequest): void {
    request.previous = this.#last
    request.next = undefined
    if (this.#last === undefined) this.#first = request
    else this.#last.next = request
    this.#last = request
    this.#size++
  }

  delete(request: LiveRequest): void {
    const { previous, next } = request
    if (previous === undefined) {
      if (this.#first !== request) return // not in the list
      this.#first = next
    } else previous.next = next
    if (next === undefined) this.#last = previous
    else next.previous = previous
    request.previous = request.next = undefined
    this.#size--
  }

  *[Symbol.iterator](): IterableIterator<LiveRequest> {
    for (let request = this.#first; request !== undefined; request = request.next) yield request
  }
}
