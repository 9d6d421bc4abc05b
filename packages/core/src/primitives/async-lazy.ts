// `AsyncLazy`: a value computed once on first use, shared by concurrent callers, with expiry.
import { setMaxListeners } from 'node:events'
import { performance } from 'node:perf_hooks'
import { CancelledError } from '../errors.js'
import { toCancelledError } from '../internal/cancel.js'
import { type Deferred, deferred } from '../internal/deferred.js'
import { copyOptions, validateDuration, validateFunction, validateSignal } from '../internal/validation.js'

/** Options of {@link AsyncLazy}. */
export interface AsyncLazyOptions {
  /**
   * A value expires this many ms after it was computed; the next `get` computes afresh.
   * @default never
   */
  ttl?: number
}

/** Options of {@link AsyncLazy.get}. */
export interface LazyGetOptions {
  /** Ends this caller's wait only: it rejects with a CancelledError; the computation goes on for others. */
  signal?: AbortSignal
}

/** `'empty'` (nothing cached), `'pending'` (computing) or `'ready'` (a value is cached). */
export type AsyncLazyState = 'empty' | 'pending' | 'ready'

interface Computation<T> {
  result: Deferred<T>
  controller: AbortController
  /** Callers waiting on it with a signal; when the last of them leaves and no plain caller waits, it is abandoned. */
  waiters: number
  plainWaiters: boolean
}

/**
 * A value computed once, on first use, and shared (Nexios' AsyncLazy, without its races):
 * concurrent callers share one computation; a failure reaches every waiting caller and is not
 * cached; `reset()` during a computation keeps its result from being stored; falsy values are values.
 *
 * The factory gets an AbortSignal that aborts when every caller waiting for it has left through
 * its own signal (then nobody wants the result; the next `get` starts afresh).
 *
 * Throws a TypeError/RangeError for an invalid factory or `ttl`.
 *
 * @example
 * ```ts
 * const stats = new AsyncLazy((signal) => computeDailyStats({ signal }), { ttl: 60_000 })
 * app.get('/stats', (req) => stats.get({ signal: req.taskGroup.signal }))
 * ```
 */
export class AsyncLazy<T> {
  #factory: (signal: AbortSignal) => T | PromiseLike<T>
  #ttl: number | undefined
  #hasValue = false
  #value: T | undefined
  #expiresAt = Infinity
  #pending: Computation<T> | undefined

  constructor(factory: (signal: AbortSignal) => T | PromiseLike<T>, options?: AsyncLazyOptions) {
    this.#factory = validateFunction(factory, 'The "factory" argument')
    this.#ttl = validateDuration(copyOptions(options, 'The AsyncLazy options').ttl, 'The "ttl" option')
  }

  /** Where the value is: `'empty'`, `'pending'` or `'ready'`. */
  get state(): AsyncLazyState {
    if (this.#fresh()) return 'ready'
    return this.#pending === undefined ? 'empty' : 'pending'
  }

  /** The cached value, or undefined when there is none (check `state`: undefined can be a value). */
  peek(): T | undefined {
    return this.#fresh() ? this.#value : undefined
  }

  /**
   * The value: cached, or the computation in flight, or a new computation. Rejects with the
   * factory's error (not cached), or with a CancelledError when `signal` aborts (for this caller only).
   */
  get(options?: LazyGetOptions): Promise<T> {
    let signal: AbortSignal | undefined
    try {
      signal = validateSignal(copyOptions(options, 'The get options').signal, 'The "signal" option')
    } catch (error) {
      return Promise.reject(error)
    }
    if (signal?.aborted) return Promise.reject(toCancelledError(signal.reason, 'The wait was cancelled'))
    if (this.#fresh()) return Promise.resolve(this.#value as T)
    const computation = this.#pending ?? this.#compute()
    if (signal === undefined) {
      computation.plainWaiters = true
      return computation.result.promise
    }
    return this.#waitWithSignal(computation, signal)
  }

  /**
   * Forgets the cached value. A computation in flight still answers the callers already waiting,
   * but its result is not kept: the next `get` computes afresh.
   */
  reset(): void {
    this.#hasValue = false
    this.#value = undefined
    this.#pending = undefined
  }

  #fresh(): boolean {
    if (!this.#hasValue) return false
    if (performance.now() < this.#expiresAt) return true
    this.#hasValue = false
    this.#value = undefined
    return false
  }

  #compute(): Computation<T> {
    const computation: Computation<T> = { result: deferred<T>(), controller: new AbortController(), waiters: 0, plainWaiters: false }
    setMaxListeners(0, computation.controller.signal)
    // Registered before the factory runs: a synchronous throw settles it at once, and must clear it.
    this.#pending = computation
    // Callers attach their handlers after this returns; the computation's own promise must not
    // report an unhandled rejection when every caller has left.
    computation.result.promise.catch(() => {})
    const done = (ok: boolean, value: unknown): void => {
      // Only the current computation may store its value: reset() or abandonment replaced it.
      if (this.#pending === computation) {
        this.#pending = undefined
        if (ok) {
          this.#hasValue = true
          this.#value = value as T
          this.#expiresAt = this.#ttl === undefined ? Infinity : performance.now() + this.#ttl
        }
      }
      if (ok) computation.result.resolve(value as T)
      else computation.result.reject(value)
    }
    try {
      Promise.resolve(this.#factory(computation.controller.signal)).then(
        (value) => done(true, value),
        (error) => done(false, error),
      )
    } catch (error) {
      done(false, error)
    }
    return computation
  }

  #waitWithSignal(computation: Computation<T>, signal: AbortSignal): Promise<T> {
    computation.waiters++
    return new Promise<T>((resolve, reject) => {
      const onAbort = (): void => {
        reject(toCancelledError(signal.reason, 'The wait was cancelled'))
        if (--computation.waiters === 0 && !computation.plainWaiters) {
          // Nobody wants this result any more: stop it, and let the next caller start afresh.
          if (this.#pending === computation) this.#pending = undefined
          computation.controller.abort(new CancelledError('Every caller stopped waiting for the value'))
        }
      }
      signal.addEventListener('abort', onAbort, { once: true })
      computation.result.promise.then(
        (value) => {
          signal.removeEventListener('abort', onAbort)
          resolve(value)
        },
        (error: unknown) => {
          signal.removeEventListener('abort', onAbort)
          reject(error)
        },
      )
    })
  }
}
