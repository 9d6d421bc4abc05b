// The public types of `Threadpool`: its options, run and close options, and stats.
import type { ResourceLimits, TransferListItem } from 'node:worker_threads'
import type { Threadpool } from './threadpool.js'

/** Options of {@link Threadpool}. Defaults suit a web server (see {@link ThreadpoolSettings}). */
export interface ThreadpoolOptions {
  /**
   * Threads kept alive while idle (they never keep the process alive), 0 to 1024.
   * @default 1
   */
  minThreads?: number
  /**
   * Most threads running at once, 1 to 1024.
   * @default `max(1, availableParallelism() - 1)`
   */
  maxThreads?: number
  /**
   * Ms an idle thread above `minThreads` is kept before it stops, up to 2^31-1; Infinity: never.
   * @default 30_000
   */
  idleTimeout?: number
  /**
   * Most tasks waiting for a thread (a safe integer, or Infinity); past it `run` rejects with QueueFullError.
   * @default 64 per thread
   */
  maxQueue?: number
  /**
   * Per-thread V8 limits (`worker_threads` `resourceLimits`); a thread exceeding them dies. In MB:
   * `maxOldGenerationSizeMb`, `maxYoungGenerationSizeMb` and `codeRangeSizeMb` above 0 up to
   * 1,048,576 (1 TiB); `stackSizeMb` from 1 to 256.
   */
  resourceLimits?: ResourceLimits
}

/** The options a pool runs with, defaults applied (`pool.options`). */
export interface ThreadpoolSettings {
  readonly minThreads: number
  readonly maxThreads: number
  readonly idleTimeout: number
  readonly maxQueue: number
  readonly resourceLimits: ResourceLimits | undefined
}

/** Options of {@link Threadpool.run}. */
export interface ThreadpoolRunOptions {
  /**
   * Cancels the task: a queued task is removed; a running one has its thread terminated, or, with
   * `grace`, is first asked to stop through `this.signal`.
   */
  signal?: AbortSignal
  /** Ms from the `run` call after which the task is cancelled with a TimeoutError. */
  timeout?: number
  /**
   * Ms a running task is given to stop by itself when it is cancelled or times out, from 0 to
   * 2^31-1, or Infinity (never terminate). Its in-thread signal (`this.signal`) aborts first; if the
   * task settles within `grace`, the call rejects with the CancelledError (or TimeoutError) and the
   * thread is kept for the next task; past `grace` the thread is terminated. Without `grace`, a
   * cancelled running task's thread is terminated at once. Either way, the call rejects once the
   * task has stopped.
   */
  grace?: number
  /** ArrayBuffers (and MessagePorts) to move to the worker instead of copying them. */
  transfer?: readonly TransferListItem[]
}

/**
 * What a pool function sees as `this` in its thread (a function declaration, a function
 * expression, a method or a module's exported function; an arrow function has no `this` of its
 * own and cannot read it). Type it with a `this` parameter: `function (this: ThreadpoolTaskContext, x: number)`.
 *
 * @example
 * ```ts
 * export async function crawl(this: ThreadpoolTaskContext, urls: string[]) {
 *   for (const url of urls) {
 *     this.signal.throwIfAborted()
 *     await fetch(url, { signal: this.signal })
 *   }
 * }
 * // main thread: given 500 ms to stop by itself when the request ends, then terminated
 * await pool.run(workerTask<typeof crawl>(new URL('./crawl.ts', import.meta.url), 'crawl'), [urls], { signal, grace: 500 })
 * ```
 */
export interface ThreadpoolTaskContext {
  /**
   * Aborts when the task is cancelled or times out and the call gave a `grace` period (then its
   * `reason` is a CancelledError or TimeoutError). Without `grace` it never aborts: the thread is
   * terminated instead. Code that never yields to the event loop (a synchronous loop) does not see
   * it abort; await something now and then (`await new Promise(setImmediate)`) to let it.
   */
  readonly signal: AbortSignal
}

/** One thread of a pool, as read by {@link Threadpool.threadStats}. */
export interface ThreadpoolThreadStats {
  /** The thread's `threadId`. */
  readonly threadId: number
  /** CPU time the thread has used since it started, in µs; undefined on Nodes before 22.19 / 24.6. */
  readonly cpu: { readonly user: number; readonly system: number } | undefined
  /** The thread's V8 heap in bytes (used, total, limit); undefined on Nodes before 22.16 / 24. */
  readonly heap: { readonly used: number; readonly total: number; readonly limit: number } | undefined
}

/** Options of {@link Threadpool.close}. */
export interface ThreadpoolCloseOptions {
  /** Ms to wait for queued and running tasks; then the rest are stopped with ShutdownError. */
  timeout?: number
}

/** A summary of durations in milliseconds. All zero before the first record. */
export interface DurationStats {
  readonly count: number
  readonly mean: number
  readonly p50: number
  readonly p90: number
  readonly p99: number
  readonly max: number
}

/** A snapshot of a pool (`pool.stats()`). */
export interface ThreadpoolStats {
  /** Worker threads alive (starting, busy or idle). */
  readonly threads: number
  /** Tasks handed to a thread. */
  readonly running: number
  /** Tasks waiting for a thread. */
  readonly queued: number
  /** Tasks that fulfilled. */
  readonly completed: number
  /** Tasks that rejected: the function threw, or its thread died. */
  readonly failed: number
  /** Tasks ended by their signal, their timeout, or the pool's shutdown. */
  readonly cancelled: number
  /** Time on a thread, from hand-over to outcome. */
  readonly runTime: DurationStats
  /** Time waiting in the queue. */
  readonly waitTime: DurationStats
}
