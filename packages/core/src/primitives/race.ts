// `runUntilFirstComplete()` and `firstSuccessful()`: races that cancel and await the losers.
import { setMaxListeners } from 'node:events'
import { CancelledError, TimeoutError } from '../errors.js'
import { toCancelledError } from '../internal/cancel.js'
import { copyOptions, invalidType, validateDuration, validateSignal } from '../internal/validation.js'
import { scopeSignal, scopesOn, withSignal } from './current-task-group.js'

/**
 * One contestant: a function called with an AbortSignal, or a `[fn, arg]` pair called as
 * `fn(arg, signal)` (Nexios' `(fn, kwargs)` form).
 */
export type RaceEntry<T> =
  | ((signal: AbortSignal) => T | PromiseLike<T>)
  | readonly [(arg: any, signal: AbortSignal) => T | PromiseLike<T>, unknown]

/** Options of {@link runUntilFirstComplete} (as a last argument) and {@link firstSuccessful}. */
export interface RaceOptions {
  /**
   * Cancels the race: it rejects with a CancelledError and every entry's signal aborts.
   * @default once `currentSignal()` is in use in the process, the `currentSignal()` of the code
   * that starts the race (so a race in a request handler ends when the client leaves); else none
   */
  signal?: AbortSignal
  /** Rejects with a {@link TimeoutError} (aborting every entry) when no entry won in time. */
  timeout?: number
}

type Value<E> = E extends RaceEntry<infer T> ? Awaited<T> : never

/**
 * Nexios' `run_until_first_complete`: runs every entry at once; the first to settle decides,
 * with its value or its error. Every other entry's signal then aborts and their later outcomes
 * are ignored. A {@link RaceOptions} object may come last.
 *
 * Rejects with a TypeError for an entry that is neither a function nor a `[fn, arg]` pair.
 *
 * @example
 * ```ts
 * const body = await runUntilFirstComplete(
 *   (signal) => fetch(primary, { signal }),
 *   [fetchFrom, 'https://backup.example'],
 * )
 * ```
 */
export function runUntilFirstComplete<const E extends readonly RaceEntry<unknown>[]>(...entries: E): Promise<Value<E[number]>>
export function runUntilFirstComplete<const E extends readonly RaceEntry<unknown>[]>(
  ...args: [...E, RaceOptions]
): Promise<Value<E[number]>>
export async function runUntilFirstComplete(...entries: unknown[]): Promise<unknown> {
  const last = entries.at(-1)
  const options = last !== undefined && typeof last === 'object' && !Array.isArray(last) ? (entries.pop() as RaceOptions) : undefined
  return race(entries as RaceEntry<unknown>[], options, 'first-settled')
}

/**
 * Failover: runs every entry at once; the first to fulfil wins. When all fail it rejects with an
 * `AggregateError` of their errors, in entry order; past `timeout`, with a {@link TimeoutError}.
 * Losers' signals abort as soon as the winner is known; the winner's does not. Each entry's
 * `currentSignal()` is its signal (so a loser's `fetch` closes with no signal passed by hand, when
 * `cancellationInterceptor()` is installed).
 *
 * @example
 * ```ts
 * const results = await firstSuccessful(
 *   [(s) => searchPrimary(q, s), (s) => searchBackup(q, s), () => cachedResults(q)],
 *   { timeout: 2_000 },
 * )
 * ```
 */
export async function firstSuccessful<const E extends readonly RaceEntry<unknown>[]>(
  entries: E,
  options?: RaceOptions,
): Promise<Value<E[number]>> {
  if (!Array.isArray(entries)) throw invalidType('The "entries" argument', 'an array', entries)
  return race([...entries], options, 'first-success') as Promise<Value<E[number]>>
}

function race(entries: RaceEntry<unknown>[], options: RaceOptions | undefined, mode: 'first-settled' | 'first-success'): Promise<unknown> {
  const opts = copyOptions(options, 'The race options')
  // With `currentSignal()` in use, a race follows the scope it runs in unless given a signal.
  const scoped = scopesOn()
  const parent = validateSignal(opts.signal, 'The "signal" option') ?? (scoped ? scopeSignal() : undefined)
  const timeout = validateDuration(opts.timeout, 'The "timeout" option')
  if (entries.length === 0) throw invalidType('The entries', 'at least one function', entries)
  entries.forEach((entry, index) => {
    const ok = typeof entry === 'function' || (Array.isArray(entry) && entry.length === 2 && typeof entry[0] === 'function')
    if (!ok) throw invalidType(`Entry ${index}`, 'a function or a [function, argument] pair', entry)
  })
  if (parent?.aborted) return Promise.reject(toCancelledError(parent.reason, 'The race was cancelled'))

  // One signal per entry: the losers' abort when the winner is known, the winner's never does
  // (what it returned, say a response whose body is still streaming, is the caller's now).
  const controllers = entries.map(() => new AbortController())
  setMaxListeners(0, ...controllers.map((controller) => controller.signal))
  return new Promise((resolve, reject) => {
    let decided = false
    let timer: NodeJS.Timeout | undefined
    let remaining = entries.length
    const errors: unknown[] = new Array(entries.length)
    const finish = (settle: () => void, reason: CancelledError, winner: number): void => {
      if (decided) return
      decided = true
      for (let index = 0; index < controllers.length; index++) if (index !== winner) controllers[index]!.abort(reason)
      clearTimeout(timer)
      parent?.removeEventListener('abort', onParentAbort)
      settle()
    }
    const lost = (error: unknown): void =>
      finish(() => reject(error), new CancelledError('Another entry settled first', { cause: error }), -1)
    const onParentAbort = (): void => {
      const error = toCancelledError(parent!.reason, 'The race was cancelled')
      lost(error)
    }
    parent?.addEventListener('abort', onParentAbort, { once: true })
    if (timeout !== undefined) {
      timer = setTimeout(
        () => lost(new TimeoutError(`No entry ${mode === 'first-success' ? 'succeeded' : 'settled'} within ${timeout} ms`)),
        timeout,
      )
    }
    entries.forEach((entry, index) => {
      if (decided) return // decided already (a synchronous settle): start no more
      const won = (value: unknown): void => finish(() => resolve(value), new CancelledError('Another entry won the race'), index)
      const failed = (error: unknown): void => {
        if (mode === 'first-settled') return lost(error)
        errors[index] = error
        if (--remaining === 0) lost(new AggregateError(errors, `All ${entries.length} entries failed`))
      }
      const signal = controllers[index]!.signal
      try {
        // The entry's `currentSignal()` is its own signal too: a loser's I/O stops with it.
        const result = !scoped ? start(entry, signal) : withSignal(signal, start, entry, signal)
        Promise.resolve(result).then(won, failed)
      } catch (error) {
        failed(error)
      }
    })
  })
}

function start(entry: RaceEntry<unknown>, signal: AbortSignal): unknown {
  return typeof entry === 'function' ? entry(signal) : entry[0](entry[1], signal)
}
