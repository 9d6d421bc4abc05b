// `Threadpool`: CPU-bound work on worker threads, built on tinypool, with cancellation, timeouts,
// a bounded queue, faithful errors and a graceful close.
import { performance } from 'node:perf_hooks'
import type { Tinypool, TinypoolWorker } from 'tinypool'
import { type CancelledError, ClosedError, QueueFullError, ShutdownError } from '../errors.js'
import { toCancelledError } from '../internal/cancel.js'
import { poolRunChannel, traced, workerCrashChannel } from '../internal/channels.js'
import { type Deferred, deferred } from '../internal/deferred.js'
import { DurationHistogram } from './duration-histogram.js'
import { startTinypool } from './launch.js'
import { resolvePoolOptions, validateCloseOptions, validatePoolOptions, validateRunOptions } from './options.js'
import { PoolTask, toMessage } from './pool-task.js'
import { poolRunDispatched, poolRunQueued, poolRunSettled, workerCrashed } from './pool-trace.js'
import type { PackedReply } from './protocol.js'
import { type Outcome, rejectionOutcome, replyOutcome } from './reply-outcome.js'
import { openSideChannel, type SideChannel } from './side-channel.js'
import { sampleThreads } from './thread-stats.js'
import { ThreadWatch } from './thread-watch.js'
import type {
  ThreadpoolCloseOptions,
  ThreadpoolOptions,
  ThreadpoolRunOptions,
  ThreadpoolSettings,
  ThreadpoolStats,
  ThreadpoolThreadStats,
} from './types.js'
import type { PoolFunction, WorkerTask } from './worker-task.js'

/**
 * A pool of worker threads for CPU-bound work (tinypool underneath). Run a self-contained
 * function, shipped by source (`pool.run(fn, args)`), or a module's export
 * (`pool.run(workerTask(url, name), args)`). Tasks can be cancelled with a signal or a timeout
 * (the thread running them is terminated and replaced), errors come back with their class, code,
 * cause and properties, and `close()` lets the queue drain.
 *
 * The constructor throws a TypeError/RangeError (code `ERR_INVALID_ARG_TYPE`/`ERR_OUT_OF_RANGE`)
 * naming an invalid option and the value received; the caller's object is never modified.
 *
 * @example
 * ```ts
 * await using pool = new Threadpool({ maxThreads: 4 })
 * const hash = await pool.run((text: string) => {
 *   let h = 0
 *   for (let i = 0; i < text.length; i++) h = (h * 31 + text.charCodeAt(i)) | 0
 *   return h
 * }, [body], { signal: request.signal, timeout: 1_000 })
 * ```
 */
export class Threadpool implements AsyncDisposable {
  #options: ThreadpoolSettings
  #tinypool: Tinypool
  #channel: SideChannel
  #threads: ThreadWatch
  #queue = new Set<PoolTask>() // a Set is a FIFO with O(1) removal of a cancelled task
  /** Tasks handed to tinypool: running, or next in line for a thread (see #pump). */
  #running = new Set<PoolTask>()
  /** Tasks handed to tinypool ahead of time, in order: each starts when a thread answers (see #pump). */
  #next = new Set<PoolTask>()
  /** Tasks in #running that can be cancelled (a signal or a timeout). */
  #cancellable = 0
  /** Threads terminated for a cancelled task that have not exited yet: each still holds a slot (see #terminate). */
  #exiting = 0
  #counts: Record<Outcome, number> = { completed: 0, failed: 0, cancelled: 0 }
  #runTime = new DurationHistogram()
  #waitTime = new DurationHistogram()
  #idle: Deferred<void> | undefined
  #closing: Promise<void> | undefined
  #destroying: Promise<void> | undefined
  #stopped = false

  /**
   * Validates pool options without starting a pool; returns a copy holding the options given.
   * Throws like the constructor.
   *
   * @example
   * ```ts
   * const options = Threadpool.validateOptions(userOptions, 'The "threadpool" option')
   * ```
   */
  static validateOptions(options: unknown, what = 'The Threadpool options'): ThreadpoolOptions {
    return validatePoolOptions(options, what)
  }

  constructor(options?: ThreadpoolOptions) {
    this.#options = Object.freeze(resolvePoolOptions(validatePoolOptions(options, 'The Threadpool options')))
    this.#channel = openSideChannel(() => this.#stopped)
    this.#tinypool = startTinypool(this.#options, this.#channel)
    this.#threads = new ThreadWatch(this.#tinypool, () => this.#stopped)
    // A thread that died while idle is announced on taskscope:pool.worker.crash (ThreadWatch replaces it).
    this.#tinypool.on('error', (error: unknown) => workerCrashed(this, error))
  }

  /** The options this pool runs with, defaults applied. */
  get options(): ThreadpoolSettings {
    return this.#options
  }

  /** True once `close()` or `destroy()` was called: `run` rejects with ClosedError. */
  get closed(): boolean {
    return this.#closing !== undefined || this.#stopped
  }

  /**
   * Runs `task(...args)` on a worker thread and resolves with its (awaited) result. `task` is a
   * self-contained function (it may use only its parameters, globals and what it `import()`s; it
   * is shipped by source and compiled once per thread) or a {@link workerTask} handle. Arguments
   * and result are copied with structured clone; `transfer` moves ArrayBuffers instead.
   *
   * The function reads `this.signal` (see `ThreadpoolTaskContext`): with `grace`, a cancelled
   * or timed-out task is first asked to stop through it, and keeps its thread if it does in time.
   *
   * Never throws: every error is a rejection. Rejects with a TypeError/RangeError for a bad task
   * (not a function; a bound or native function; a class), args or options; ClosedError after
   * close; QueueFullError when `maxQueue` tasks already wait; CancelledError (cause: the signal's
   * reason) or TimeoutError when cancelled, once the task stopped; TypeError
   * `ERR_THREADPOOL_DATA_CLONE` when arguments or result cannot be cloned; WorkerCrashedError when
   * the thread dies; ShutdownError when the pool is destroyed first; else with what the task threw,
   * rebuilt (same built-in class, name, code...).
   *
   * @example
   * ```ts
   * const sum = await pool.run((a: number, b: number) => a + b, [1, 2]) // 3
   * const resize = workerTask<typeof import('./images.js').resize>(new URL('./images.js', import.meta.url), 'resize')
   * const small = await pool.run(resize, [buffer, 200], { signal, grace: 100, transfer: [buffer.buffer] })
   * ```
   */
  run<F extends PoolFunction>(
    task: F | WorkerTask<F>,
    args: Parameters<F>,
    options?: ThreadpoolRunOptions,
  ): Promise<Awaited<ReturnType<F>>> {
    try {
      return this.#submit(task, args, options) as Promise<Awaited<ReturnType<F>>>
    } catch (error) {
      return Promise.reject(error)
    }
  }

  #submit(target: unknown, args: unknown, options: ThreadpoolRunOptions | undefined): Promise<unknown> {
    if (this.closed) throw new ClosedError('The Threadpool is closed and accepts no new tasks')
    const { signal, timeout, grace, transfer } = validateRunOptions(options)
    const { message, name, seq } = toMessage(target, args, grace)
    if (signal?.aborted) throw toCancelledError(signal.reason, `The Threadpool task "${name}" was cancelled`)
    const { maxThreads, maxQueue } = this.#options
    if (this.#running.size - this.#next.size >= maxThreads && this.#queue.size + this.#next.size >= maxQueue) {
      throw new QueueFullError(`The Threadpool queue is full (maxQueue: ${maxQueue}); the task "${name}" was refused`)
    }
    const task = new PoolTask(message, seq, name, transfer, signal, grace, performance.now())
    if (signal !== undefined || timeout !== undefined) task.arm(timeout, this.#cancelTask)
    this.#queue.add(task)
    if (traced(poolRunChannel)) poolRunQueued(this, task)
    this.#pump()
    return task.result.promise
  }

  /**
   * Hands queued tasks to tinypool: one per free thread, and then one more per thread, next in
   * line, so that tinypool gives a thread its next task the moment it answers (a round trip
   * through this pool's promise first leaves the thread idle for part of every task: a fifth to a
   * quarter of a tiny task's throughput). Only a task that cannot be cancelled goes ahead of time,
   * and only while no task handed over can be cancelled and no thread is exiting: tinypool may give
   * the next task of its queue to a thread being terminated (see #terminate), and a task waiting
   * inside tinypool could not be removed from its queue by this pool.
   */
  #pump(): void {
    const { maxThreads } = this.#options
    while (!this.#stopped && this.#queue.size > 0) {
      const handed = this.#running.size + this.#exiting
      const task = this.#queue.values().next().value as PoolTask
      const ahead = handed >= maxThreads
      if (ahead && (handed >= 2 * maxThreads || task.cancellable || this.#cancellable > 0 || this.#exiting > 0)) return
      this.#queue.delete(task)
      this.#dispatch(task, ahead)
    }
  }

  #dispatch(task: PoolTask, ahead: boolean): void {
    this.#running.add(task)
    if (task.cancellable) this.#cancellable++
    const { message, signal } = task.dispatched()
    if (ahead) this.#next.add(task)
    else this.#started(task)
    this.#tinypool.run(message, { signal, transferList: task.transfer }).then(
      (reply: PackedReply) => this.#settle(task, ...replyOutcome(task, reply)),
      (error: unknown) => {
        if (task.settled) return // tinypool's own rejection of a task we cancelled or stopped
        this.#settle(task, ...rejectionOutcome(task, error))
        this.#threads.scan()
      },
    )
    if (this.#threads.alive < this.#options.maxThreads) this.#threads.scan()
  }

  /** A thread took the task: its wait ends, its run starts. */
  #started(task: PoolTask): void {
    task.startedAt = performance.now()
    this.#waitTime.record(task.startedAt - task.queuedAt)
    if (traced(poolRunChannel)) poolRunDispatched(task)
  }

  #cancelTask = (task: PoolTask, error: CancelledError): void => this.#cancel(task, error)

  /**
   * Cancels a task: a running task with `grace` is asked to stop and given `grace` ms (if it settles
   * in time the call rejects and the thread is kept), else it is dropped now.
   */
  #cancel(task: PoolTask, error: CancelledError): void {
    if (task.settled || task.stopping !== undefined) return
    if (task.seq === undefined || !this.#running.has(task)) return this.#terminate(task, error)
    task.stopWithGrace(error, this.#channel.abort, () => this.#terminate(task, error))
  }

  /**
   * Aborting the controller makes tinypool drop the task, terminating its thread if it runs.
   *
   * The thread keeps its slot until it has exited: tinypool takes it out of its list at once, but
   * an answer the thread posted before it stopped (a task that answered just as its grace ran out)
   * still makes tinypool hand that thread the next task of its queue, which then dies with it
   * ("Terminating worker thread"). No task is given to tinypool while such a thread is exiting.
   */
  #terminate(task: PoolTask, error: CancelledError): void {
    if (task.settled) return
    const threads = this.#tinypool.threads
    task.abortRun(error)
    for (const thread of threads) if (!this.#tinypool.threads.includes(thread)) this.#awaitExit(thread)
    this.#settle(task, 'cancelled', error)
    this.#threads.scan()
  }

  #awaitExit(thread: TinypoolWorker): void {
    this.#exiting++
    thread.once('exit', () => {
      // tinypool closes the thread's port a few promise turns after 'exit': no answer of it is read after this turn.
      setImmediate(() => {
        this.#exiting--
        this.#pump()
      })
    })
  }

  #settle(task: PoolTask, outcome: Outcome, value: unknown): void {
    if (!task.settle()) return
    if (this.#running.delete(task)) {
      if (task.cancellable) this.#cancellable--
      // A task stopped while next in line (destroy) never ran: no run time, and nobody took its place.
      if (!this.#next.delete(task)) {
        this.#runTime.record(performance.now() - task.startedAt)
        // tinypool gave the thread that answered the first task next in line (as near as this pool can tell)
        const next = this.#next.values().next().value
        if (next !== undefined) {
          this.#next.delete(next)
          this.#started(next)
        }
      }
    } else this.#queue.delete(task)
    this.#counts[outcome]++
    if (traced(poolRunChannel) || workerCrashChannel.hasSubscribers) poolRunSettled(this, task, outcome, value)
    if (outcome === 'completed') task.result.resolve(value)
    else task.result.reject(value)
    this.#pump()
    if (this.#running.size === 0 && this.#queue.size === 0) this.#idle?.resolve()
  }

  /**
   * A snapshot of the pool: threads, running and queued tasks, outcome counters, and run/wait
   * time percentiles (ms).
   *
   * @example
   * ```ts
   * const { queued, waitTime } = pool.stats()
   * if (waitTime.p99 > 500) log.warn('threadpool saturated')
   * ```
   */
  stats(): ThreadpoolStats {
    return {
      threads: this.#tinypool.threads.length,
      running: this.#running.size - this.#next.size,
      queued: this.#queue.size + this.#next.size,
      ...this.#counts,
      runTime: this.#runTime.summary(),
      waitTime: this.#waitTime.summary(),
    }
  }

  /**
   * Reads each live thread's CPU time and heap, from the main thread and only when called (tasks
   * pay nothing for it); a field the running Node cannot read is undefined. Never rejects.
   * @example
   * ```ts
   * for (const { threadId, heap } of await pool.threadStats()) if (heap && heap.used > 0.9 * heap.limit) log.warn({ threadId }, 'heap near limit')
   * ```
   */
  threadStats(): Promise<ThreadpoolThreadStats[]> {
    return this.#stopped ? Promise.resolve([]) : sampleThreads(this.#tinypool)
  }

  /**
   * Closes the pool gracefully: `run` rejects with ClosedError from now on; queued and running
   * tasks finish; then the threads stop. Past `timeout` ms, the tasks left are stopped with
   * ShutdownError. Resolves when every thread has stopped; idempotent (every call returns the
   * first call's promise). Rejects only for invalid options.
   *
   * @example
   * ```ts
   * process.once('SIGTERM', () => pool.close({ timeout: 10_000 }))
   * ```
   */
  close(options?: ThreadpoolCloseOptions): Promise<void> {
    if (this.#closing !== undefined) return this.#closing
    let timeout: number | undefined
    try {
      timeout = validateCloseOptions(options)
    } catch (error) {
      return Promise.reject(error)
    }
    const how = timeout === undefined ? 'closed' : `closed and its close timeout (${timeout} ms) passed`
    this.#closing = this.#drain(timeout).then(() => this.#stop(how))
    return this.#closing
  }

  async #drain(timeout: number | undefined): Promise<void> {
    if (this.#running.size === 0 && this.#queue.size === 0) return
    const idle = (this.#idle = deferred())
    const timer = timeout === undefined ? undefined : setTimeout(() => idle.resolve(), timeout)
    await idle.promise
    clearTimeout(timer)
  }

  /**
   * Stops the pool now: queued and running tasks reject with ShutdownError, threads are
   * terminated, `run` rejects with ClosedError. Resolves when every thread has stopped; idempotent.
   *
   * @example
   * ```ts
   * afterEach(() => pool.destroy())
   * ```
   */
  destroy(): Promise<void> {
    return this.#stop('destroyed')
  }

  #stop(how: string): Promise<void> {
    if (this.#destroying !== undefined) return this.#destroying
    this.#stopped = true
    for (const task of [...this.#queue, ...this.#running]) {
      this.#settle(task, 'cancelled', new ShutdownError(`The Threadpool task "${task.name}" was stopped: the pool was ${how}`))
    }
    this.#channel.close()
    this.#destroying = this.#tinypool.destroy()
    return this.#destroying
  }

  /** `await using pool = new Threadpool()`: closes the pool (see {@link Threadpool.close}). */
  [Symbol.asyncDispose](): Promise<void> {
    return this.close()
  }
}
