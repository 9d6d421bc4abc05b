// The app's worker pool as the runtime owns it: the process-wide shared pool by default, a pool of
// its own (made from options), or the caller's (used as is, left open). Started on first use, and
// closed on shutdown only when the runtime started it.
import { hasMethods } from '../internal/validation.js'
import { getThreadpool, startedSharedThreadpool } from '../threadpool/shared-threadpool.js'
import { Threadpool } from '../threadpool/threadpool.js'
import type { ThreadpoolOptions, ThreadpoolStats } from '../threadpool/types.js'
import { log, type RuntimeLogger } from './logger.js'

/** `stats().pool` before the pool was ever used: reading it must not start threads. */
const idle = Object.freeze({ count: 0, mean: 0, p50: 0, p90: 0, p99: 0, max: 0 })
const idlePoolStats: ThreadpoolStats = Object.freeze({
  threads: 0,
  running: 0,
  queued: 0,
  completed: 0,
  failed: 0,
  cancelled: 0,
  runTime: idle,
  waitTime: idle,
})

/** @internal What shutdown did with the pool: see `RuntimeCloseSummary.pool`. */
export type PoolOutcome = 'closed' | 'not-started' | 'external'

/** @internal The runtime's pool: which one, started when, closed by whom. */
export class AppPool {
  #pool: Threadpool | undefined
  #options: ThreadpoolOptions | 'shared' | undefined // undefined: the caller's pool
  #closed = false

  /** Throws a TypeError/RangeError for invalid pool options. */
  constructor(option: Threadpool | ThreadpoolOptions | undefined) {
    if (isPool(option)) this.#pool = option
    else if (option === undefined) this.#options = 'shared'
    else this.#options = Threadpool.validateOptions(option, 'The "threadpool" option')
  }

  /** The pool, started now if it was not (after shutdown: the closed pool). */
  get(): Threadpool {
    const shared = this.#options === 'shared'
    // Another app in this process may have closed the shared pool: take the fresh one.
    if (this.#pool === undefined || (shared && this.#pool.closed && !this.#closed)) {
      this.#pool = shared ? getThreadpool() : new Threadpool(this.#options as ThreadpoolOptions | undefined)
      if (this.#closed) void this.#pool.destroy()
    }
    return this.#pool
  }

  /** The pool's stats, without starting it. */
  stats(): ThreadpoolStats {
    return this.#started()?.stats() ?? idlePoolStats
  }

  /** Closes the pool if the runtime started it, giving its tasks `timeout` ms; logs a failure to `logger`. */
  async close(timeout: number, logger: RuntimeLogger): Promise<PoolOutcome> {
    if (this.#options === undefined) return 'external'
    const pool = this.#started()
    this.#closed = true
    if (pool === undefined) return 'not-started'
    this.#pool = pool
    try {
      await pool.close({ timeout })
    } catch (error) {
      log(logger, 'error', { err: error }, 'closing the threadpool failed')
    }
    return 'closed'
  }

  /** The pool if it was started: by default, the shared one, also when only `runInThreadpool` used it. */
  #started(): Threadpool | undefined {
    if (this.#pool !== undefined && !(this.#options === 'shared' && this.#pool.closed && !this.#closed)) return this.#pool
    return this.#options === 'shared' ? startedSharedThreadpool() : undefined
  }
}

function isPool(value: unknown): value is Threadpool {
  return value instanceof Threadpool || hasMethods(value, ['run', 'stats', 'close', 'destroy'])
}
