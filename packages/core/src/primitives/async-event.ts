// `AsyncEvent`: a flag that tasks wait on until it is set (and that can be cleared), with a signal and a timeout.
import { TimeoutError } from '../errors.js'
import { toCancelledError } from '../internal/cancel.js'
import { type Deferred, deferred } from '../internal/deferred.js'
import { copyOptions, validateDuration, validateSignal } from '../internal/validation.js'

/** Options of {@link AsyncEvent.wait}. */
export interface WaitOptions {
  /** Stops this wait: it rejects with a CancelledError whose `cause` is the signal's reason. */
  signal?: AbortSignal
  /** Stops this wait after this many ms: it rejects with a {@link TimeoutError}. */
  timeout?: number
}

interface Waiter {
  resolve: (value: true) => void
  cleanup?: () => void
}

/**
 * A flag that tasks can wait for (asyncio.Event semantics, plus per-wait cancellation and timeout):
 * `set()` wakes every waiter in the order they began waiting, `clear()` lowers the flag for future
 * waits. A waiter that is aborted or times out is removed at once: nothing accumulates.
 *
 * @example
 * ```ts
 * const ready = new AsyncEvent()
 * setTimeout(() => ready.set(), 100)
 * await ready.wait({ timeout: 1_000 }) // true
 * ```
 */
export class AsyncEvent {
  #set = false
  // Every pending wait in the order it began (a Set keeps insertion order and removes in O(1)).
  // Consecutive plain waits share one entry, `#plain`, while it is the newest; a wait with a signal
  // or a timeout has an entry of its own, removed when it is cancelled.
  #waiters = new Set<Waiter>()
  #plain: Deferred<true> | undefined
  #count = 0

  /** True while the flag is set. */
  get isSet(): boolean {
    return this.#set
  }

  /** Sets the flag and wakes every waiter, in the order they began waiting. Waits that start while it is set resolve at once. */
  set(): void {
    if (this.#set) return
    this.#set = true
    const waiters = this.#waiters
    this.#waiters = new Set()
    this.#plain = undefined
    this.#count = 0
    for (const waiter of waiters) {
      waiter.cleanup?.()
      waiter.resolve(true)
    }
  }

  /** Lowers the flag. Waiters already woken stay woken. */
  clear(): void {
    this.#set = false
  }

  /**
   * Resolves `true` once the flag is set (at once if it is). Rejects with a CancelledError when
   * `signal` aborts (checked first, like the platform) and with a {@link TimeoutError} after
   * `timeout` ms; either way the waiter is removed. Throws nothing synchronously.
   */
  wait(options?: WaitOptions): Promise<true> {
    let signal: AbortSignal | undefined
    let timeout: number | undefined
    try {
      const opts = copyOptions(options, 'The wait options')
      signal = validateSignal(opts.signal, 'The "signal" option')
      timeout = validateDuration(opts.timeout, 'The "timeout" option')
    } catch (error) {
      return Promise.reject(error)
    }
    if (signal?.aborted) return Promise.reject(toCancelledError(signal.reason, 'The wait was cancelled'))
    if (this.#set) return Promise.resolve(true)
    this.#count++
    if (signal === undefined && timeout === undefined) {
      if (this.#plain === undefined) this.#waiters.add((this.#plain = deferred<true>()))
      return this.#plain.promise
    }

    return new Promise<true>((resolve, reject) => {
      let timer: NodeJS.Timeout | undefined
      const stop = (error: unknown): void => {
        waiter.cleanup!()
        this.#waiters.delete(waiter)
        this.#count--
        reject(error)
      }
      const onAbort = (): void => stop(toCancelledError(signal!.reason, 'The wait was cancelled'))
      const waiter: Waiter = {
        resolve,
        cleanup: () => {
          clearTimeout(timer)
          signal?.removeEventListener('abort', onAbort)
        },
      }
      this.#waiters.add(waiter)
      this.#plain = undefined // a plain wait that starts after this one must wake after it
      signal?.addEventListener('abort', onAbort, { once: true })
      if (timeout !== undefined) timer = setTimeout(() => stop(new TimeoutError(`The wait timed out after ${timeout} ms`)), timeout)
    })
  }

  /** Diagnostics: the number of pending waits (each call to `wait` that has not settled yet). */
  get waiting(): number {
    return this.#count
  }
}
