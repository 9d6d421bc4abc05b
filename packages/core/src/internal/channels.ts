// The diagnostics channels taskscope publishes on, in one place so that primitives, the pool and
// the runtime all import them downwards. Publishing is free when nobody subscribes: every call
// site checks `hasSubscribers` (through `traced` for a TracingChannel) before it builds a context.
import diagnostics from 'node:diagnostics_channel'

/** How a traced unit of work ended; set on its context before `asyncEnd`. */
export interface TraceOutcome {
  /** The value, once fulfilled. */
  result?: unknown
  /** The failure, once rejected (a cancellation is never an error). */
  error?: unknown
  /** True when the work was cancelled; `reason` is then the CancelledError. */
  cancelled?: boolean
  /** The cancellation's reason (a CancelledError), when `cancelled`. */
  reason?: unknown
}

/** A TracingChannel, published on by hand: taskscope's units of work are not a single call. */
export type Tracing = diagnostics.TracingChannel<unknown, object> & {
  readonly start: diagnostics.Channel
  readonly end: diagnostics.Channel
  readonly asyncStart: diagnostics.Channel
  readonly asyncEnd: diagnostics.Channel
  readonly error: diagnostics.Channel
  readonly hasSubscribers: boolean
}

/** `taskscope:task`: around each task's work, each request (its task group's life) and each background task. */
export const taskChannel = diagnostics.tracingChannel('taskscope:task') as Tracing
/** `taskscope:pool.run`: around each pool call; `start` at enqueue, `asyncStart` when a thread takes it. */
export const poolRunChannel = diagnostics.tracingChannel('taskscope:pool.run') as Tracing
/** `taskscope:background`: around each background task. */
export const backgroundChannel = diagnostics.tracingChannel('taskscope:background') as Tracing
/** `taskscope:request.disconnect`: a client went away before its response completed. */
export const disconnectChannel = diagnostics.channel('taskscope:request.disconnect')
/** `taskscope:group.cancel`: a task group was cancelled. */
export const groupCancelChannel = diagnostics.channel('taskscope:group.cancel')
/** `taskscope:pool.worker.crash`: a pool thread died. */
export const workerCrashChannel = diagnostics.channel('taskscope:pool.worker.crash')
/** `taskscope:shutdown`: a runtime finished shutting down (the close summary). */
export const shutdownChannel = diagnostics.channel('taskscope:shutdown')

// `TracingChannel#hasSubscribers` is missing before Node 20.13 (and 22.0): then the sub-channels tell.
const aggregate = !('hasSubscribers' in taskChannel)

/** True when anybody listens to any event of `channel`. */
export function traced(channel: Tracing): boolean {
  if (!aggregate) return channel.hasSubscribers
  return (
    channel.start.hasSubscribers ||
    channel.end.hasSubscribers ||
    channel.asyncStart.hasSubscribers ||
    channel.asyncEnd.hasSubscribers ||
    channel.error.hasSubscribers
  )
}

export type SettledStatus = 'fulfilled' | 'rejected' | 'cancelled'

/**
 * Records a traced unit of work's outcome on its context, and publishes `error` for a failure
 * only: a cancellation is `cancelled: true` with its `reason`, never an `error` event.
 */
export function markOutcome(channel: Tracing, context: TraceOutcome, status: SettledStatus, value: unknown): void {
  if (status === 'fulfilled') context.result = value
  else if (status === 'cancelled') {
    context.cancelled = true
    context.reason = value
  } else {
    context.error = value
    channel.error.publish(context)
  }
}

/** Ends a traced unit of work: its outcome (see {@link markOutcome}), then `asyncStart` and `asyncEnd`. */
export function traceSettled(channel: Tracing, context: TraceOutcome, status: SettledStatus, value: unknown): void {
  markOutcome(channel, context, status, value)
  channel.asyncStart.publish(context)
  channel.asyncEnd.publish(context)
}

/**
 * One traced run of work that starts with a synchronous call: `start` (the call runs with the
 * channel's bound stores, so an APM's context reaches the work), `end` when the call returns, and
 * the async events once it settles. An outcome reached during the call is published after `end`.
 */
export class Trace {
  readonly channel: Tracing
  readonly context: TraceOutcome
  #sync = true
  #outcome: [SettledStatus, unknown] | undefined

  constructor(channel: Tracing, context: object) {
    this.channel = channel
    this.context = context as TraceOutcome
  }

  run<A extends unknown[], R>(fn: (...args: A) => R, ...args: A): R {
    try {
      return this.channel.start.runStores(this.context, fn, undefined, ...args)
    } finally {
      this.channel.end.publish(this.context)
      this.#sync = false
      if (this.#outcome !== undefined) traceSettled(this.channel, this.context, ...this.#outcome)
    }
  }

  settled(status: SettledStatus, value: unknown): void {
    if (this.#sync) this.#outcome = [status, value]
    else traceSettled(this.channel, this.context, status, value)
  }
}
