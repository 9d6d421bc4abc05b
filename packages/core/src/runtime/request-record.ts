// A request's TaskGroup tied to its response: what a disconnect and a completed response mean for
// the group, and the runtime's record of the live request.
import { performance } from 'node:perf_hooks'
import { type CancelledError, type ClientDisconnectedError, isCancellation, RequestFinishedError } from '../errors.js'
import { stackless } from '../internal/cancel.js'
import { disconnectChannel, type TraceOutcome, taskChannel, traced, traceSettled } from '../internal/channels.js'
import type { Linked } from '../internal/linked-list.js'
import { kCancel, kCloseNow, kNext, kPrevious } from '../internal/symbols.js'
import type { TaskGroup } from '../primitives/task-group.js'
import { unanswered } from './escaped-cancellation.js'
import { log, type RuntimeLogger, reportFailure } from './logger.js'
import { type HttpRequest, type HttpResponse, type ResponseLifecycleHandlers, ResponseWatch } from './response-lifecycle.js'

/**
 * @internal A request group's name: `'GET /report'`, or the part of it the request has; undefined
 * when it has neither (a bare `IncomingMessage` has `method: null`), never `'null '`.
 */
export function requestName(req: HttpRequest): string | undefined {
  const method = typeof req.method === 'string' ? req.method : ''
  const url = typeof req.url === 'string' ? req.url : ''
  if (method !== '' && url !== '') return `${method} ${url}`
  return method || url || undefined
}

/** @internal What a request record tells the runtime. */
export interface RequestOwner {
  /**
   * The request's group has closed (its tasks settled, failures reported): `disconnected` when
   * the client went away first, `stragglers` the tasks the completed response left running.
   */
  requestEnded(record: RequestRecord, disconnected: boolean, stragglers: number): void
}

/** The context of a request on `taskscope:task` (kind `'request'`): from its group's creation until it closed. */
interface RequestTraceContext extends TraceOutcome {
  task: undefined
  group: TaskGroup
  kind: 'request'
  method: string | undefined
  url: string | undefined
}

/** Made only when somebody asks for it: a request that completes with nothing running builds no error. */
function requestFinished(): RequestFinishedError {
  return stackless(() => new RequestFinishedError())
}

/**
 * @internal A request's TaskGroup tied to its response (`runtime.requestGroup`): a disconnect
 * cancels it with ClientDisconnectedError (info); completion cancels tasks still running with
 * RequestFinishedError (warn); either way it is then closed and failures nobody observed are
 * reported (error). It is the runtime's record of the live request too.
 */
export class RequestRecord implements ResponseLifecycleHandlers, Linked {
  [kPrevious]: Linked | undefined;
  [kNext]: Linked | undefined
  readonly group: TaskGroup
  readonly method: string
  readonly url: string
  readonly startedAt = performance.now()
  #req: HttpRequest
  #res: HttpResponse
  #logger: RuntimeLogger
  #onError: ((error: unknown) => void) | undefined
  #owner: RequestOwner
  #trace: RequestTraceContext | undefined

  constructor(
    group: TaskGroup,
    req: HttpRequest,
    res: HttpResponse,
    logger: RuntimeLogger,
    onError: ((error: unknown) => void) | undefined,
    owner: RequestOwner,
  ) {
    this.group = group
    this.method = req.method ?? ''
    this.url = req.url ?? ''
    this.#req = req
    this.#res = res
    this.#logger = logger
    this.#onError = onError
    this.#owner = owner
    if (traced(taskChannel)) {
      this.#trace = { task: undefined, group, kind: 'request', method: req.method, url: req.url }
      taskChannel.start.publish(this.#trace)
      taskChannel.end.publish(this.#trace)
    }
  }

  /** Starts watching the response (after the owner has recorded it: a late start reports at once). */
  watch(): void {
    new ResponseWatch(this.#req, this.#res, this)
  }

  clientGone(reason: ClientDisconnectedError): void {
    const { group } = this
    const message = 'client went away before the response completed; request tasks cancelled'
    log(this.#logger, 'info', { code: reason.code, tasks: group.size }, message)
    if (disconnectChannel.hasSubscribers) {
      disconnectChannel.publish({ group, request: this.#req, response: this.#res, reason, tasks: group.size })
    }
    this.#end(reason, true, 0)
  }

  completed(): void {
    const stragglers = this.group.size
    if (stragglers > 0) {
      const message =
        'response completed with request tasks still running: cancelled (work that must outlive a request belongs in backgroundTasks)'
      log(this.#logger, 'warn', { tasks: stragglers, group: this.group.name }, message)
    }
    this.#end(requestFinished, false, stragglers)
  }

  #end(reason: CancelledError | (() => CancelledError), disconnected: boolean, stragglers: number): void {
    const { group } = this
    group[kCancel](reason, 'user')
    // The common case: nothing left running, the group closes now, with no promise.
    const now = group[kCloseNow]()
    if (now !== undefined) return this.#closed(now.error, reason, disconnected, stragglers)
    group.close().then(
      () => this.#closed(undefined, reason, disconnected, stragglers),
      (error: unknown) => this.#closed(error, reason, disconnected, stragglers),
    )
  }

  #closed(failure: unknown, reason: unknown, disconnected: boolean, stragglers: number): void {
    const failed = failure !== undefined && !isCancellation(failure)
    try {
      // What the request was answered with already went through the framework's error path, which logged it.
      const report = failed ? unanswered(failure, this.#res) : undefined
      if (report !== undefined) reportFailure(report, this.#logger, this.#onError, {}, 'request tasks failed and nobody awaited them')
    } finally {
      this.#owner.requestEnded(this, disconnected, stragglers)
      const trace = this.#trace
      if (trace !== undefined) {
        if (disconnected) traceSettled(taskChannel, trace, 'cancelled', reason)
        else if (failed) traceSettled(taskChannel, trace, 'rejected', failure)
        else traceSettled(taskChannel, trace, 'fulfilled', undefined)
      }
    }
  }
}
