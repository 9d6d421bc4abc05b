// The one place that decides whether a request ended because its response completed or because
// the client went away, and what that means for the request's TaskGroup. Why each check is there (Node 20, verified in the research lab):
// - `res` 'close' fires in both cases; `!res.writableEnded` tells a disconnect. Not
//   `writableFinished`: a cancelled HTTP/2 stream emits 'finish' and reports it true.
// - `req` 'close' alone means "request body done" since Node 16 (every POST), so it only counts
//   when the request really was aborted; it catches pipelined requests whose response is queued.
// - A queued pipelined response never emits 'close' at all: the HTTP/1 socket's 'close' does.
//   If that response was already ended (the handler answered, the answer waited its turn behind
//   a slower one), the request is complete, not gone: it must be reported all the same, or its
//   group would stay alive forever.
// - The watcher may start late (the request group is created on first use): replay what
//   already happened.
import type { IncomingMessage, ServerResponse } from 'node:http'
import type { Http2ServerRequest, Http2ServerResponse } from 'node:http2'
import type { Socket } from 'node:net'
import { ClientDisconnectedError, isCancellation, RequestFinishedError } from '../errors.js'
import { stackless } from '../internal/cancel.js'
import { disconnectChannel, type TraceOutcome, taskChannel, traced, traceSettled } from '../internal/channels.js'
import type { TaskGroup } from '../primitives/task-group.js'
import { log, type RuntimeLogger, reportFailure } from './logger.js'

/** A request from `node:http`/`node:https`, or from the `node:http2` compatibility API. */
export type HttpRequest = IncomingMessage | Http2ServerRequest
/** The response that goes with an {@link HttpRequest}. */
export type HttpResponse = ServerResponse | Http2ServerResponse

/** What {@link watchResponse} reports: exactly one of the two, at most once. */
export interface ResponseLifecycleHandlers {
  /** The client went away before the response completed. */
  clientGone(reason: ClientDisconnectedError): void
  /**
   * The response completed: it was ended and its stream closed. A pipelined response that was
   * ended while queued behind a slower one counts as completed too when its connection then closes.
   */
  completed(): void
}

interface RequestState {
  aborted?: boolean
  errored?: Error | null
  destroyed?: boolean
  complete?: boolean
}

interface ResponseState {
  writableEnded: boolean
  closed?: boolean
  destroyed?: boolean
  stream?: { destroyed?: boolean; closed?: boolean }
}

/** The request was really aborted (not merely "body fully read", which also closes it). */
function aborted(req: RequestState): boolean {
  return req.aborted === true || Boolean(req.errored) || (req.destroyed === true && req.complete === false)
}

/** The response has closed already (its 'close' was emitted or is about to be). */
function closed(res: ResponseState): boolean {
  return res.closed === true || res.destroyed === true || res.stream?.destroyed === true
}

/**
 * Watches one request until its response completes or its client goes away, and reports which
 * (once). Works with `node:http`/`node:https` and the `node:http2` compatibility API, for GET,
 * POST whose body was already read, keep-alive and pipelined requests. If something already
 * happened before the call (a late start), it is reported at once, synchronously.
 *
 * Every listener it adds is removed as soon as it reports, or when the returned function is
 * called: thousands of requests over one keep-alive socket leave nothing behind.
 *
 * @example
 * ```ts
 * const controller = new AbortController()
 * watchResponse(req, res, {
 *   clientGone: (reason) => controller.abort(reason),
 *   completed: () => {},
 * })
 * ```
 */
export function watchResponse(req: HttpRequest, res: HttpResponse, on: ResponseLifecycleHandlers): () => void {
  const request = req as HttpRequest & RequestState
  const response = res as HttpResponse & ResponseState
  // HTTP/1 only (an HTTP/2 request's `socket` is the whole session, shared by every stream), and
  // only while the response is queued behind a pipelined one: a response that has its socket
  // already gets 'close' from it, so the common case adds no listener to a keep-alive socket.
  const queued = (res as { socket?: unknown }).socket == null
  const socket = req.httpVersionMajor === 1 && queued ? (req.socket as Socket | null) : null
  let done = false

  const dispose = (): void => {
    done = true
    res.removeListener('close', onResponseClose)
    req.removeListener('close', onRequestClose)
    socket?.removeListener('close', onSocketClose)
  }
  const report = (gone: boolean, cause?: Error | null): void => {
    if (done) return
    dispose()
    if (!gone) on.completed()
    else on.clientGone(stackless(() => new ClientDisconnectedError(undefined, cause ? { cause } : undefined)))
  }
  function onResponseClose(): void {
    report(!response.writableEnded, request.errored)
  }
  function onRequestClose(): void {
    if (!response.writableEnded && aborted(request)) report(true, request.errored)
  }
  function onSocketClose(): void {
    report(!response.writableEnded)
  }

  res.on('close', onResponseClose)
  req.on('close', onRequestClose)
  socket?.on('close', onSocketClose)

  if (closed(response)) onResponseClose()
  else if (socket?.destroyed === true) onSocketClose()
  else onRequestClose()
  return dispose
}

/** @internal How {@link bindRequestGroup} reports. */
export interface RequestGroupBinding {
  logger: RuntimeLogger
  /** Receives unobserved failures instead of the logger. */
  onError: ((error: unknown) => void) | undefined
  /**
   * Called once the group has closed (its tasks settled, failures reported): `disconnected` when
   * the client went away first, `stragglers` the tasks the completed response left running.
   */
  ended: (disconnected: boolean, stragglers: number) => void
}

/** The context of a request on `taskscope:task` (kind `'request'`): from its group's creation until it closed. */
interface RequestTraceContext extends TraceOutcome {
  task: undefined
  group: TaskGroup
  kind: 'request'
  method: string | undefined
  url: string | undefined
}

/**
 * @internal Ties a request's TaskGroup to its response (`runtime.requestGroup`): a disconnect
 * cancels it with ClientDisconnectedError (info); completion cancels tasks still running with
 * RequestFinishedError (warn); either way it is then closed and failures nobody observed are
 * reported (error).
 */
export function bindRequestGroup(group: TaskGroup, req: HttpRequest, res: HttpResponse, how: RequestGroupBinding): void {
  const { logger, onError } = how
  let trace: RequestTraceContext | undefined
  if (traced(taskChannel)) {
    trace = { task: undefined, group, kind: 'request', method: req.method, url: req.url }
    taskChannel.start.publish(trace)
    taskChannel.end.publish(trace)
  }
  const end = (reason: Error, disconnected: boolean, stragglers: number): void => {
    group.cancel(reason)
    let failure: unknown
    group
      .close()
      .then(undefined, (error: unknown) => {
        failure = error
        report(error)
      })
      .finally(() => {
        how.ended(disconnected, stragglers)
        if (trace === undefined) return
        if (disconnected) traceSettled(taskChannel, trace, 'cancelled', reason)
        else if (failure !== undefined && !isCancellation(failure)) traceSettled(taskChannel, trace, 'rejected', failure)
        else traceSettled(taskChannel, trace, 'fulfilled', undefined)
      })
  }
  const report = (error: unknown): void => {
    if (!isCancellation(error)) reportFailure(error, logger, onError, {}, 'request tasks failed and nobody awaited them')
  }
  watchResponse(req, res, {
    clientGone(reason) {
      log(
        logger,
        'info',
        { code: reason.code, tasks: group.size },
        'client went away before the response completed; request tasks cancelled',
      )
      if (disconnectChannel.hasSubscribers) disconnectChannel.publish({ group, request: req, response: res, reason, tasks: group.size })
      end(reason, true, 0)
    },
    completed() {
      if (group.size > 0) {
        const message =
          'response completed with request tasks still running: cancelled (work that must outlive a request belongs in backgroundTasks)'
        log(logger, 'warn', { tasks: group.size, group: group.name }, message)
      }
      end(
        stackless(() => new RequestFinishedError()),
        false,
        group.size,
      )
    },
  })
}
