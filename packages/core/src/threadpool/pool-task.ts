// `PoolTask`: one task of a Threadpool, from `run()` to its outcome. The task owns its transitions
// (armed, dispatched, asked to stop with grace, settled); the pool owns the queue, the running set
// and the counters. What tinypool's answers mean is in reply-outcome.ts.
import type { TransferListItem } from 'node:worker_threads'
import { type CancelledError, TimeoutError } from '../errors.js'
import { toCancelledError } from '../internal/cancel.js'
import { type Deferred, deferred } from '../internal/deferred.js'
import { invalidType } from '../internal/validation.js'
import { shipFunction, shipWorkerTask } from './function-source.js'
import { type PackedTask, packTask } from './protocol.js'
import { isWorkerTask } from './worker-task.js'

/** Numbers tasks run with `grace`, so that an abort request names the task it is for. */
let lastSeq = 0

/**
 * Builds the worker message of `run(task, args)` (packed, see protocol.ts) and the task's name; a
 * task given a `grace` gets a `seq`. Throws TypeError for a bad task or args.
 */
export function toMessage(
  task: unknown,
  args: unknown,
  grace: number | undefined,
): { message: PackedTask; name: string; seq: number | undefined } {
  let id: number
  let name: string
  if (isWorkerTask(task)) {
    id = shipWorkerTask(task)
    name = task.name
  } else if (typeof task === 'function') {
    ;({ id, name } = shipFunction(task as (...args: never[]) => unknown))
  } else throw invalidType('The "task" argument', 'a function or a workerTask()', task)
  if (!Array.isArray(args)) throw invalidType('The "args" argument', 'an array of arguments', args)
  const seq = grace === undefined ? undefined : (lastSeq = (lastSeq % 0x7fff_ffff) + 1)
  return { message: packTask({ id, args, seq }), name, seq }
}

/** One task of a Threadpool: queued, then running, then settled once. */
export class PoolTask {
  readonly name: string
  readonly transfer: TransferListItem[] | undefined
  readonly result: Deferred<unknown> = deferred()
  readonly signal: AbortSignal | undefined
  /** The `grace` run option: ms a running task is given to stop by itself once cancelled. */
  readonly grace: number | undefined
  /** The task's number in abort requests (tasks with `grace` only). */
  readonly seq: number | undefined
  readonly queuedAt: number
  startedAt = 0
  settled = false
  /** True once a signal or a timeout is armed: the task can be cancelled while it runs. */
  cancellable = false
  /** Set when a running task with `grace` was cancelled: the call rejects with it once the task stops. */
  stopping: CancelledError | undefined
  /** What is posted to the worker; dropped once posted, so the arguments can be collected. */
  #message: PackedTask | undefined
  #onAbort: (() => void) | undefined
  #timer: NodeJS.Timeout | undefined
  /** Terminates the thread of a `stopping` task that did not stop within its grace. */
  #graceTimer: NodeJS.Timeout | undefined
  /** Given to tinypool when the task has a signal or timeout: aborting it stops the worker. */
  #controller: AbortController | undefined

  constructor(
    message: PackedTask,
    seq: number | undefined,
    name: string,
    transfer: TransferListItem[] | undefined,
    signal: AbortSignal | undefined,
    grace: number | undefined,
    now: number,
  ) {
    this.#message = message
    this.name = name
    this.transfer = transfer
    this.signal = signal
    this.grace = grace
    this.seq = seq
    this.queuedAt = now
  }

  /** Wires the task's signal and timeout to the pool's `cancel`; {@link PoolTask.disarm} undoes it. */
  arm(timeout: number | undefined, cancel: (task: PoolTask, error: CancelledError) => void): void {
    const { signal } = this
    this.cancellable = true
    if (signal !== undefined) {
      this.#onAbort = () => cancel(this, toCancelledError(signal.reason, `The Threadpool task "${this.name}" was cancelled`))
      signal.addEventListener('abort', this.#onAbort, { once: true })
    }
    if (timeout !== undefined) {
      const timedOut = (): void => cancel(this, new TimeoutError(`The Threadpool task "${this.name}" timed out after ${timeout} ms`))
      this.#timer = setTimeout(timedOut, timeout).unref()
    }
  }

  /** Removes what {@link PoolTask.arm} and {@link PoolTask.stopWithGrace} set up, and the message. */
  disarm(): void {
    if (this.#onAbort !== undefined) this.signal?.removeEventListener('abort', this.#onAbort)
    clearTimeout(this.#timer)
    clearTimeout(this.#graceTimer)
    this.#message = undefined
  }

  /**
   * The task is handed to tinypool: hands over what tinypool needs (the message, given once, and a
   * signal when the task can be cancelled).
   */
  dispatched(): { message: PackedTask | undefined; signal: AbortSignal | null } {
    if (this.cancellable) this.#controller = new AbortController()
    const message = this.#message
    this.#message = undefined
    return { message, signal: this.#controller?.signal ?? null }
  }

  /**
   * Asks the running task to stop by itself: `abort` tells its thread, and `terminate` runs if it
   * has not stopped within its grace.
   */
  stopWithGrace(error: CancelledError, abort: (seq: number, error: CancelledError) => void, terminate: () => void): void {
    this.stopping = error
    abort(this.seq!, error)
    if (this.grace !== Infinity) this.#graceTimer = setTimeout(terminate, this.grace).unref()
  }

  /** Aborting the controller makes tinypool drop the task, terminating its thread if it runs. */
  abortRun(error: CancelledError): void {
    this.#controller?.abort(error)
  }

  /** Marks the task settled and disarms it; false when it already was (the first outcome wins). */
  settle(): boolean {
    if (this.settled) return false
    this.settled = true
    this.disarm()
    return true
  }
}
