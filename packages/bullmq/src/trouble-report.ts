// Store trouble (Redis or PostgreSQL answering with an error other than "down") goes to `onError`
// once per kind of failure until the store answers again: a store that fails every poll must not
// flood the log, and a failure of the hook itself is reported rather than lost.
import { defaultOnError, type OnError } from './options.js'

export class TroubleReport {
  readonly #onError: OnError
  readonly #seen = new Set<string>()

  constructor(onError: OnError) {
    this.#onError = onError
  }

  /** Hands `error` to `onError` unless one of the same name and message was reported since the last `reset()`. Never throws. */
  report(error: unknown): void {
    const key = error instanceof Error ? `${error.name}:${error.message}` : String(error)
    if (this.#seen.has(key)) return
    this.#seen.add(key)
    try {
      this.#onError(error, undefined)
    } catch (hookError) {
      defaultOnError(new AggregateError([error, hookError], 'The onError hook threw'), undefined)
    }
  }

  /** The store answers again: the next failure of any kind is reported anew. */
  reset(): void {
    this.#seen.clear()
  }
}
