// The promise side of BackgroundTask (a Task is a native promise: see primitives/task.ts). The outward promise is created lazily, on the first
// `then`, so an outcome nobody asked for can never become an unhandled rejection, and tasks
// nobody awaits cost no promise at all.
import { type Deferred, deferred } from './deferred.js'
import { kObserved, kWhenSettled } from './symbols.js'

const State = { Pending: 0, Fulfilled: 1, Rejected: 2 } as const
type State = (typeof State)[keyof typeof State]

export abstract class Settleable<T> implements PromiseLike<T> {
  #state: State = State.Pending
  #value: unknown
  #waiter: Deferred<any> | undefined
  #follows: Promise<unknown> | undefined
  #observed = false
  #done: Deferred<void> | undefined

  /** @internal True once anybody attached a handler (`then`, `catch`, `finally`, `await`). */
  get [kObserved](): boolean {
    return this.#observed
  }

  /** Whether the outcome is known. */
  protected get settled(): boolean {
    return this.#state !== State.Pending
  }

  /** The rejection reason, once rejected. */
  protected get reason(): unknown {
    return this.#state === State.Rejected ? this.#value : undefined
  }

  /**
   * From now on `promise` settles exactly as this does, right after `settle()`: handlers attach to
   * it instead of a promise of this object's own. Its rejection must be handled by the caller.
   */
  protected follow(promise: Promise<unknown>): void {
    this.#follows = promise
  }

  /** The promise given to {@link follow}, if any. */
  protected get following(): Promise<unknown> | undefined {
    return this.#follows
  }

  /** Records the outcome once; later calls are ignored. Returns whether this call settled it. */
  protected settle(fulfilled: boolean, value: unknown): boolean {
    if (this.#state !== State.Pending) return false
    this.#state = fulfilled ? State.Fulfilled : State.Rejected
    this.#value = value
    this.#done?.resolve()
    const waiter = this.#waiter
    if (waiter !== undefined) {
      this.#waiter = undefined
      if (fulfilled) waiter.resolve(value as T)
      else waiter.reject(value)
    }
    return true
  }

  /** @internal Resolves (never rejects) once settled, without counting as observing the outcome. */
  [kWhenSettled](): Promise<void> {
    if (this.#state !== State.Pending) return Promise.resolve()
    return (this.#done ??= deferred<void>()).promise
  }

  #promise(): Promise<T> {
    if (this.#state === State.Fulfilled) return Promise.resolve(this.#value as T)
    if (this.#state === State.Rejected) return Promise.reject(this.#value)
    return (this.#follows as Promise<T> | undefined) ?? (this.#waiter ??= deferred<T>()).promise
  }

  // biome-ignore lint/suspicious/noThenProperty: a task is a PromiseLike on purpose (await, Promise.all)
  then<R1 = T, R2 = never>(
    onfulfilled?: ((value: T) => R1 | PromiseLike<R1>) | null,
    onrejected?: ((reason: any) => R2 | PromiseLike<R2>) | null,
  ): Promise<R1 | R2> {
    this.#observed = true
    return this.#promise().then(onfulfilled, onrejected)
  }

  catch<R = never>(onrejected?: ((reason: any) => R | PromiseLike<R>) | null): Promise<T | R> {
    return this.then(undefined, onrejected)
  }

  finally(onfinally?: (() => void) | null): Promise<T> {
    this.#observed = true
    return this.#promise().finally(onfinally)
  }
}
