// What a Threadpool publishes on `taskscope:pool.run` and `taskscope:pool.worker.crash`. Kept out
// of threadpool.ts so the pool calls one function per event, and only when somebody listens.
import { WorkerCrashedError } from '../errors.js'
import { markOutcome, poolRunChannel, type TraceOutcome, traced, workerCrashChannel } from '../internal/channels.js'
import type { PoolTask } from './pool-task.js'
import type { Outcome } from './reply-outcome.js'

/** The context of a `taskscope:pool.run` event. */
interface PoolRunContext extends TraceOutcome {
  /** The task's name (the function's, or the worker task's export). */
  name: string
  /** The pool. */
  pool: object
  /** `'completed'`, `'failed'` or `'cancelled'`, once settled. */
  outcome?: Outcome
}

// Contexts live here, not on the task object: a pool nobody traces keeps its task shape.
const contexts = new WeakMap<PoolTask, PoolRunContext>()

/** The task was queued: `start` and `end` (`run()` has returned its promise). */
export function poolRunQueued(pool: object, task: PoolTask): void {
  const context: PoolRunContext = { name: task.name, pool }
  contexts.set(task, context)
  poolRunChannel.start.publish(context)
  poolRunChannel.end.publish(context)
}

/** A thread took the task: `asyncStart`. */
export function poolRunDispatched(task: PoolTask): void {
  const context = contexts.get(task)
  if (context !== undefined) poolRunChannel.asyncStart.publish(context)
}

/** The task settled: `error` for a failure, then `asyncEnd` (a cancellation is `cancelled: true`); a crash also goes to `taskscope:pool.worker.crash`. */
export function poolRunSettled(pool: object, task: PoolTask, outcome: Outcome, value: unknown): void {
  if (outcome === 'failed' && value instanceof WorkerCrashedError) workerCrashed(pool, value, task.name)
  const context = contexts.get(task)
  if (context === undefined || !traced(poolRunChannel)) return
  contexts.delete(task)
  context.outcome = outcome
  markOutcome(poolRunChannel, context, outcome === 'completed' ? 'fulfilled' : outcome === 'failed' ? 'rejected' : 'cancelled', value)
  poolRunChannel.asyncEnd.publish(context)
}

/** A pool thread died: while running `task`, or idle (then `task` is undefined). */
export function workerCrashed(pool: object, error: unknown, task?: string): void {
  if (workerCrashChannel.hasSubscribers) workerCrashChannel.publish({ pool, error, task })
}
