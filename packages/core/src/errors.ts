/**
 * The error classes of taskscope. Every class has an explicit `name` and a stable string `code`;
 * match on `code` (it survives duplicated package copies, where `instanceof` does not).
 * HTTP-facing classes also carry `statusCode` and `expose`.
 *
 * `expose` follows the http-errors rule that Koa applies: true only below status 500. The 499
 * cancellations expose their (generic) message; every other error taskscope creates is
 * `expose: false`, because its message names internals (tasks, groups, the pool): Koa then answers
 * with the status text only. Errors thrown by your own code (in a task or in a worker thread) keep
 * whatever `expose` you gave them. Fastify and Express ignore `expose`: see the README, "Errors and
 * what clients see".
 *
 * @module
 */

/**
 * Every error code taskscope uses, in one table: match on `error.code` (it survives duplicated
 * package copies, where `instanceof` does not).
 *
 * @example
 * ```ts
 * import { errorCodes } from '@taskscope/core'
 * if (error.code === errorCodes.queueFull) reply.code(503)
 * ```
 */
export const errorCodes = {
  /** {@link CancelledError}: a task or a wait was cancelled. */
  cancelled: 'ERR_CANCELLED',
  /** {@link TimeoutError}: a deadline passed. */
  timeout: 'ERR_TIMEOUT',
  /** {@link ClientDisconnectedError}: the client went away before the response completed. */
  clientClosedRequest: 'ERR_CLIENT_CLOSED_REQUEST',
  /** {@link RequestFinishedError}: the response completed while request tasks still ran. */
  requestFinished: 'ERR_REQUEST_FINISHED',
  /** {@link ShutdownError}: the app is shutting down. */
  shuttingDown: 'ERR_SHUTTING_DOWN',
  /** {@link TaskGroupError}: one or more tasks of a group failed. */
  taskGroup: 'ERR_TASK_GROUP',
  /** {@link ClosedError}: new work offered to something closed. */
  closed: 'ERR_CLOSED',
  /** {@link QueueFullError}: the threadpool queue is at its limit. */
  queueFull: 'ERR_QUEUE_FULL',
  /** {@link WorkerCrashedError}: the worker running a task died. */
  workerCrashed: 'ERR_WORKER_CRASHED',
  /** A TypeError: an argument or option has the wrong type (Node's own code). */
  invalidArgType: 'ERR_INVALID_ARG_TYPE',
  /** A TypeError: an argument has the right type but an unusable value (Node's own code). */
  invalidArgValue: 'ERR_INVALID_ARG_VALUE',
  /** A RangeError: a number outside its allowed range (Node's own code). */
  outOfRange: 'ERR_OUT_OF_RANGE',
  /** A TypeError: a pool task's arguments or result cannot be cloned to or from a worker thread. */
  threadpoolDataClone: 'ERR_THREADPOOL_DATA_CLONE',
  /** A TypeError: a `workerTask` module has no function under the export name given. */
  threadpoolNoExport: 'ERR_THREADPOOL_NO_EXPORT',
  /** A ReferenceError: a pool function reads a variable that does not exist in the worker thread. */
  threadpoolNotSelfContained: 'ERR_THREADPOOL_NOT_SELF_CONTAINED',
  /** A SyntaxError: a pool function's source cannot be compiled in the worker thread. */
  threadpoolCompile: 'ERR_THREADPOOL_COMPILE',
  /** A TypeError: the data of a `defineTask()` task does not survive JSON (a function, a Date, a Map, a cycle...). */
  taskDataNotJson: 'ERR_TASK_DATA_NOT_JSON',
  /** A TypeError: a distributed registry was given a function or a promise: only `defineTask()` tasks can travel. */
  taskNotDefined: 'ERR_TASK_NOT_DEFINED',
  /** An Error: the queue's store (Redis, for `@taskscope/bullmq`) cannot be reached; the message names the connection. */
  queueUnavailable: 'ERR_QUEUE_UNAVAILABLE',
  /** An Error: a distributed job is no longer in its queue (its store lost it, or it was removed), so its handle can never settle otherwise. */
  jobLost: 'ERR_JOB_LOST',
  /** An Error: a second, different adapter instance on one app (a second Fastify registration, two `concurrency()` on one request). */
  alreadyRegistered: 'ERR_TASKSCOPE_ALREADY_REGISTERED',
  /** An Error: `taskGroup`, `threadpool` or `backgroundTasks` read where the adapter is not installed. */
  notRegistered: 'ERR_TASKSCOPE_NOT_REGISTERED',
  /** An Error: per-route options (`c.route()`) given after the request's task group was already created. */
  groupCreated: 'ERR_TASKSCOPE_GROUP_CREATED',
  /** An Error: the work given to `group.start()` returned before it called `ready()`. */
  taskNotStarted: 'ERR_TASK_NOT_STARTED',
} as const

/** One of the codes in {@link errorCodes}. */
export type ErrorCode = (typeof errorCodes)[keyof typeof errorCodes]

/** An error of a built-in class carrying one of taskscope's codes. */
export type CodedError<E extends Error = Error> = E & { readonly code: ErrorCode }

/**
 * Makes an error of a built-in class (`Error`, `TypeError`, `RangeError`, ...) with a
 * code from the table: the one way taskscope creates coded errors that have no class of their own (adapters use it too).
 *
 * @example
 * ```ts
 * throw codedError(TypeError, errorCodes.invalidArgType, 'The "limit" option must be a number. Received true')
 * ```
 */
export function codedError<E extends Error>(
  Class: new (message?: string, options?: ErrorOptions) => E,
  code: ErrorCode,
  message: string,
  options?: ErrorOptions,
): CodedError<E> {
  const error = new Class(message, options) as E & { code: ErrorCode }
  error.code = code
  return error
}

/** Sets `name`, `code` and any extra fields once, on the prototype: no per-instance cost. */
function identify(Class: { prototype: object }, name: string, code: string, extra: object = {}): void {
  for (const [key, value] of Object.entries({ name, code, ...extra })) {
    Object.defineProperty(Class.prototype, key, { value, writable: true, configurable: true, enumerable: false })
  }
}

/**
 * A task or a wait was cancelled. `cause` holds the reason that was given.
 * A cancellation is never a failure: it does not cancel siblings and is never reported as an error.
 * One that escapes an HTTP handler answers 499 (`statusCode`, `status`; `expose` true), so Fastify
 * logs it at info and Koa stays quiet; subclasses set their own status.
 *
 * @example
 * ```ts
 * try { await task } catch (err) { if (err instanceof CancelledError) return }
 * ```
 */
export class CancelledError extends Error {
  /** Stable code: `'ERR_CANCELLED'` (or a subclass's own code). */
  declare readonly code: string
  /** The HTTP status for a handler that ends with this error: 499 (504 for timeouts, 503 on shutdown). */
  declare readonly statusCode: number
  /** Same as `statusCode`, for Koa and http-errors. */
  declare readonly status: number
  /** Whether the message is safe to show to the client. */
  declare readonly expose: boolean
  constructor(message = 'The operation was cancelled', options?: ErrorOptions) {
    super(message, options)
  }
}
identify(CancelledError, 'CancelledError', errorCodes.cancelled, { statusCode: 499, status: 499, expose: true })

/**
 * A deadline passed (a group `timeout`, a wait `timeout`, a pool task `timeout`). `statusCode` 504,
 * `expose` false: its message names the group or task and the deadline.
 *
 * @example
 * ```ts
 * await event.wait({ timeout: 100 }).catch((err) => err.code === 'ERR_TIMEOUT')
 * ```
 */
export class TimeoutError extends CancelledError {
  constructor(message = 'The operation timed out', options?: ErrorOptions) {
    super(message, options)
  }
}
identify(TimeoutError, 'TimeoutError', errorCodes.timeout, { statusCode: 504, status: 504, expose: false })

/**
 * The client went away before the response completed. `statusCode` 499 (nginx's "client closed
 * request"), `expose` true, so frameworks log it quietly.
 *
 * @example
 * ```ts
 * if (request.taskGroup.signal.reason?.code === 'ERR_CLIENT_CLOSED_REQUEST') return
 * ```
 */
export class ClientDisconnectedError extends CancelledError {
  constructor(message = 'The client closed the request before the response completed', options?: ErrorOptions) {
    super(message, options)
  }
}
identify(ClientDisconnectedError, 'ClientDisconnectedError', errorCodes.clientClosedRequest, {
  statusCode: 499,
  status: 499,
  expose: true,
})

/**
 * The response completed while tasks of the request's group were still running: they are
 * cancelled with this reason. Work that must outlive a request belongs in background tasks.
 *
 * @example
 * ```ts
 * signal.reason?.code === 'ERR_REQUEST_FINISHED'
 * ```
 */
export class RequestFinishedError extends CancelledError {
  constructor(message = 'The response completed while the task was still running', options?: ErrorOptions) {
    super(message, options)
  }
}
identify(RequestFinishedError, 'RequestFinishedError', errorCodes.requestFinished)

/**
 * The application is shutting down. `statusCode` 503.
 *
 * @example
 * ```ts
 * job.signal.reason?.code === 'ERR_SHUTTING_DOWN'
 * ```
 */
export class ShutdownError extends CancelledError {
  constructor(message = 'The application is shutting down', options?: ErrorOptions) {
    super(message, options)
  }
}
identify(ShutdownError, 'ShutdownError', errorCodes.shuttingDown, { statusCode: 503, status: 503, expose: false })

/**
 * One or more tasks of a group failed. `errors` lists the failures in the order they happened;
 * `cause` is the first of them. `expose` false: its message names the tasks.
 *
 * @example
 * ```ts
 * try { await group.close() } catch (err) { if (err instanceof TaskGroupError) console.log(err.errors) }
 * ```
 */
export class TaskGroupError extends AggregateError {
  /** `'ERR_TASK_GROUP'` */
  declare readonly code: string
  /** false: never show the message to a client. */
  declare readonly expose: boolean
  constructor(errors: Iterable<unknown>, message?: string, options?: ErrorOptions) {
    const list = [...errors]
    super(
      list,
      message ?? `${list.length} task${list.length === 1 ? '' : 's'} of the group failed`,
      options ?? (list.length > 0 ? { cause: list[0] } : undefined),
    )
  }
}
identify(TaskGroupError, 'TaskGroupError', errorCodes.taskGroup, { expose: false })

/**
 * New work was offered to something closed: a task group whose `close()` finished, a background
 * registry that is shutting down, a closed pool. `statusCode` 503, `expose` false.
 *
 * @example
 * ```ts
 * try { tasks.add(work) } catch (err) { if (err.code === 'ERR_CLOSED') reply.code(503) }
 * ```
 */
export class ClosedError extends Error {
  /** `'ERR_CLOSED'` */
  declare readonly code: string
  /** 503 */
  declare readonly statusCode: number
  /** false: never show the message to a client. */
  declare readonly expose: boolean
  constructor(message = 'It is closed and accepts no new work', options?: ErrorOptions) {
    super(message, options)
  }
}
identify(ClosedError, 'ClosedError', errorCodes.closed, { statusCode: 503, expose: false })

/**
 * The threadpool queue is at its limit (`maxQueue`). `statusCode` 503: shed the load.
 *
 * @example
 * ```ts
 * pool.run(fn, []).catch((err) => { if (err.code === 'ERR_QUEUE_FULL') reply.code(503) })
 * ```
 */
export class QueueFullError extends Error {
  /** `'ERR_QUEUE_FULL'` */
  declare readonly code: string
  /** 503 */
  declare readonly statusCode: number
  /** false */
  declare readonly expose: boolean
  constructor(message = 'The threadpool queue is full', options?: ErrorOptions) {
    super(message, options)
  }
}
identify(QueueFullError, 'QueueFullError', errorCodes.queueFull, { statusCode: 503, expose: false })

/**
 * The worker running a task died (it called `process.exit`, threw asynchronously, or ran out of
 * memory), or the task left a stray rejection or throw behind. The pool replaced it; other tasks
 * are unaffected. `expose` false: its message names the task and the cause.
 *
 * @example
 * ```ts
 * pool.run(fn, []).catch((err) => err.code === 'ERR_WORKER_CRASHED')
 * ```
 */
export class WorkerCrashedError extends Error {
  /** `'ERR_WORKER_CRASHED'` */
  declare readonly code: string
  /** false: never show the message to a client. */
  declare readonly expose: boolean
  constructor(message = 'The worker running the task died', options?: ErrorOptions) {
    super(message, options)
  }
}
identify(WorkerCrashedError, 'WorkerCrashedError', errorCodes.workerCrashed, { expose: false })

const cancellationCodes = new Set<string>([
  errorCodes.cancelled,
  errorCodes.timeout,
  errorCodes.clientClosedRequest,
  errorCodes.requestFinished,
  errorCodes.shuttingDown,
  // Node's own AbortError (timers/promises, events.once, streams, fetch in some paths).
  'ABORT_ERR',
])

/**
 * True for a cancellation: a {@link CancelledError} (any subclass, also from another copy of this
 * package), a DOMException named `AbortError` or `TimeoutError` (what `fetch` and
 * `AbortSignal.timeout` throw), Node's own `AbortError` (code `ABORT_ERR`), and the TypeError
 * `fetch` fails with when its request was aborted by `cancellationInterceptor()` (`fetch failed` or
 * `terminated`, whose `cause` is one of the above).
 *
 * @example
 * ```ts
 * try { await fetch(url, { signal }) } catch (err) { if (!isCancellation(err)) throw err }
 * ```
 */
export function isCancellation(error: unknown): boolean {
  if (isDirectCancellation(error)) return true
  // fetch reports a dispatch aborted under it as a network error, the reason as its cause.
  if (!(error instanceof TypeError)) return false
  try {
    return isDirectCancellation((error as { cause?: unknown }).cause)
  } catch {
    return false // a hostile `cause` getter: not ours
  }
}

function isDirectCancellation(error: unknown): boolean {
  if (error instanceof CancelledError) return true
  if (typeof error !== 'object' || error === null) return false
  const { code, name } = error as { code?: unknown; name?: unknown }
  if (typeof code === 'string' && cancellationCodes.has(code)) return true
  return (name === 'AbortError' || name === 'TimeoutError') && error instanceof Error
}
