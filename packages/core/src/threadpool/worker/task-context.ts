// What a pool function sees as `this` in its thread, and the in-thread side of cooperative
// cancellation (the `grace` run option). The signal is made on first read, so a task that never
// reads it pays one small object.
import { CancelledError, TimeoutError } from '../../errors.js'
import { type AbortRequest, cancelRingSlots } from '../protocol.js'
import { deserializeThrown } from '../remote-error.js'
import type { ThreadpoolTaskContext } from '../types.js'

export class TaskContext implements ThreadpoolTaskContext {
  #controller: AbortController | undefined

  /** Aborts when the task is cancelled or times out, if the call gave a `grace` period. */
  get signal(): AbortSignal {
    return (this.#controller ??= new AbortController()).signal
  }

  /** Aborts `context.signal` (a static method, so that the task cannot reach it through `this`). */
  static abort(context: TaskContext, request: AbortRequest): void {
    const controller = (context.#controller ??= new AbortController())
    if (controller.signal.aborted) return
    const options = request.cause === undefined ? undefined : { cause: deserializeThrown(request.cause) }
    controller.abort(request.kind === 'timeout' ? new TimeoutError(request.message, options) : new CancelledError(request.message, options))
  }
}

/** Runs a function in the AsyncLocalStorage context of a task (`AsyncLocalStorage.snapshot()` taken in it). */
export type InTask = <R>(fn: () => R) => R

/**
 * The task with `grace` this thread runs (one at a time), to find it by the `seq` of an abort
 * request, and its context: the abort runs there, so that whatever the task's abort listeners
 * start (a timer, a promise) belongs to that task, never to the pool or to the next task.
 */
let current: { readonly seq: number; readonly context: TaskContext; readonly inTask: InTask } | undefined
/**
 * Abort requests for a `seq` not running here: meant for another thread (every thread hears every
 * request), or for a task this thread has not started yet. A few are kept for the latter.
 */
const early = new Map<number, AbortRequest>()

/** Handles an abort request heard on the pool's channel. */
export function onAbortRequest(request: AbortRequest): void {
  if (current?.seq === request.abort) {
    const { context, inTask } = current
    return inTask(() => TaskContext.abort(context, request))
  }
  early.set(request.abort, request)
  if (early.size > 64) early.delete(early.keys().next().value as number)
}

/**
 * Marks the task `seq` as the one running (with `context`, aborted through `inTask`); aborts it at once if it was cancelled
 * already. Its request may have been sent before this thread listened (it was starting): the
 * pool's cancellation ring still says so, and the reason is rebuilt without its cause.
 */
export function startAbortable(seq: number, context: TaskContext, cancelled: Int32Array, name: string, inTask: InTask): void {
  current = { seq, context, inTask }
  const slot = (seq % cancelRingSlots) * 2
  if (Atomics.load(cancelled, slot) !== seq) return
  const timeout = Atomics.load(cancelled, slot + 1) === 1
  const request = early.get(seq) ?? {
    abort: seq,
    kind: timeout ? 'timeout' : 'cancelled',
    message: `The Threadpool task "${name}" ${timeout ? 'timed out' : 'was cancelled'}`,
    cause: undefined,
  }
  early.delete(seq)
  inTask(() => TaskContext.abort(context, request))
}

/** Ends the task started with {@link startAbortable}. */
export function endAbortable(context: TaskContext): void {
  if (current?.context === context) current = undefined
}
