// Work after the response (Next.js `after()`, the edge runtimes' `waitUntil`) for Node servers:
// background tasks that a request schedules, run once its response has finished or its client has
// gone, and that neither event cancels. Starlette shipped the bug of tying such work to the
// request; here it belongs to the app's background registry from the moment it is scheduled.
import { type ClientDisconnectedError, ClosedError, isCancellation } from '../errors.js'
import type { Work } from '../internal/run-work.js'
import { kClosureTasks } from '../internal/symbols.js'
import { invalidType, isPromiseLike } from '../internal/validation.js'
import type { BackgroundTask } from '../primitives/background-task.js'
import { type RuntimeLogger, reportFailure } from './logger.js'
import { type HttpRequest, type HttpResponse, watchResponse } from './response-lifecycle.js'
import type { Runtime } from './runtime.js'

/**
 * What `after()` runs once the response has finished (`outcome` undefined) or the client has gone
 * (`outcome` the {@link ClientDisconnectedError}). `signal` aborts only when the task is
 * cancelled (on shutdown, with `ShutdownError`), never because the request ended.
 */
export type AfterWork<T> = (signal: AbortSignal, outcome: ClientDisconnectedError | undefined) => T | PromiseLike<T>

/**
 * `after` and `waitUntil`, as each adapter puts them on its request object (`request` in Fastify,
 * `req` in Express, `ctx` in Koa). Both return a task of the app's background registry, named after
 * the route (`'POST /orders'`), listed by `list()` and drained on shutdown; its failures are logged
 * through the request's logger, with the request's id; its work keeps the request's
 * AsyncLocalStorage context, and the end of the request or a disconnect never cancels it. With a
 * distributed registry (`@taskscope/bullmq`) they still run in this process (a closure cannot
 * travel), in a small registry of the runtime's own, drained on shutdown too.
 */
export interface AfterResponseMethods {
  /**
   * Runs `work(signal, outcome)` once the response has finished (`outcome` undefined) or the
   * client has gone (`outcome` the `ClientDisconnectedError`): audit logs, metrics, cache warming.
   * The task exists (`status` `'running'`) from this call on.
   *
   * Throws `ClosedError` once the app's shutdown began, and a TypeError (`ERR_INVALID_ARG_TYPE`)
   * when `work` is not a function.
   *
   * @example
   * ```ts
   * request.after(async (signal, outcome) => {
   *   await audit.write({ user, action: 'order.create', completed: outcome === undefined }, { signal })
   * })
   * ```
   */
  after<T>(work: AfterWork<T>): BackgroundTask<Awaited<T>>
  /**
   * Starts `work(signal)` now (or adopts a promise already running) as a background task that
   * outlives the request: the response does not wait for it.
   *
   * Throws `ClosedError` once the app's shutdown began, and a TypeError (`ERR_INVALID_ARG_TYPE`)
   * when `work` is neither a function nor a promise.
   *
   * @example
   * ```ts
   * request.waitUntil((signal) => cache.refresh(key, { signal }))
   * ```
   */
  waitUntil<T>(work: Work<T>): BackgroundTask<Awaited<T>>
}

/** @internal Where a request's after-response work reports. */
export interface AfterContext {
  /** The task's name: the request's method and route. */
  name: string
  /** The request's logger (with its id). */
  logger: RuntimeLogger
  /** The adapter's own sink for request failures, instead of the logger. */
  onError: ((error: unknown) => void) | undefined
}

type Outcome = ClientDisconnectedError | undefined

// One watcher per response, shared by every `after()` of the request; gone with the response.
const ends = new WeakMap<HttpResponse, Promise<Outcome>>()

function responseEnd(req: HttpRequest, res: HttpResponse): Promise<Outcome> {
  let end = ends.get(res)
  if (end === undefined) {
    end = new Promise<Outcome>((resolve) => watchResponse(req, res, { clientGone: resolve, completed: () => resolve(undefined) }))
    ends.set(res, end)
  }
  return end
}

/** Resolves with the response's outcome, or rejects with `signal.reason` if the task is cancelled first. */
function untilEnded(end: Promise<Outcome>, signal: AbortSignal): Promise<Outcome> {
  if (signal.aborted) return Promise.reject(signal.reason)
  return new Promise((resolve, reject) => {
    const onAbort = (): void => reject(signal.reason)
    signal.addEventListener('abort', onAbort, { once: true })
    void end.then((outcome) => {
      signal.removeEventListener('abort', onAbort)
      resolve(outcome)
    })
  })
}

/** @internal `request.after(work)`: a background task now, whose work starts when the response ends. */
export function scheduleAfter<T>(
  runtime: Runtime,
  req: HttpRequest,
  res: HttpResponse,
  work: AfterWork<T>,
  how: AfterContext,
): BackgroundTask<Awaited<T>> {
  if (typeof work !== 'function') throw invalidType('The "work" argument of after()', 'a function', work)
  const end = responseEnd(req, res)
  // Started here, so its continuation keeps the caller's AsyncLocalStorage context.
  const afterResponse = async (signal: AbortSignal): Promise<T> => work(signal, await untilEnded(end, signal))
  return track(closureTasks(runtime, 'after').add(afterResponse, { name: how.name }), how)
}

/** @internal `request.waitUntil(workOrPromise)`: a background task that starts now. */
export function scheduleWaitUntil<T>(runtime: Runtime, work: Work<T>, how: AfterContext): BackgroundTask<Awaited<T>> {
  if (typeof work !== 'function' && !isPromiseLike(work)) {
    throw invalidType('The "work" argument of waitUntil()', 'a function or a promise', work)
  }
  return track(closureTasks(runtime, 'waitUntil').add(work, { name: how.name }), how)
}

function closureTasks(runtime: Runtime, call: string) {
  if (runtime.draining) throw new ClosedError(`The app is shutting down: ${call}() accepts no new work`)
  return runtime[kClosureTasks]()
}

/** Failures go to the request's logger (with its id) rather than to the registry's `onError`. */
function track<T>(task: BackgroundTask<T>, { logger, onError }: AfterContext): BackgroundTask<T> {
  task.then(undefined, (error: unknown) => {
    if (isCancellation(error)) return
    reportFailure(error, logger, onError, { task: { id: task.id, name: task.name } }, 'background task failed')
  })
  return task
}
