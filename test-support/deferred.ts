import { track } from './cleanup.ts'

export interface Deferred<T> {
  promise: Promise<T>
  /** Settles the promise; later calls (and calls after `reject`) are ignored. */
  resolve: (value: T | PromiseLike<T>) => void
  reject: (reason?: unknown) => void
  readonly settled: boolean
}

/**
 * A promise with its resolve/reject exposed (both safe to pass around unbound). A rejected
 * deferred nobody awaits is not an unhandled rejection. One still pending at `cleanup()` is
 * resolved with `undefined`, so nothing a test forgot to release keeps a handler (or a server's
 * close) waiting.
 */
export function deferred<T = void>(): Deferred<T> {
  let resolve!: (value: T | PromiseLike<T>) => void
  let reject!: (reason?: unknown) => void
  let settled = false
  const promise = new Promise<T>((res, rej) => {
    resolve = res
    reject = rej
  })
  promise.catch(() => {})
  const untrack = track('deferred', () => d.resolve(undefined as T))
  const d: Deferred<T> = {
    promise,
    resolve(value) {
      if (settled) return
      settled = true
      untrack()
      resolve(value)
    },
    reject(reason) {
      if (settled) return
      settled = true
      untrack()
      reject(reason)
    },
    get settled() {
      return settled
    },
  }
  return d
}
