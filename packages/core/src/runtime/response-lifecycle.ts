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
import { ClientDisconnectedError } from '../errors.js'
import { stackless } from '../internal/cancel.js'

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
  const watch = new ResponseWatch(req, res, on)
  return () => watch.dispose()
}

/**
 * @internal The watch behind {@link watchResponse}, which a request record uses directly (no
 * dispose closure). A response that has its connection (every response but a pipelined one
 * waiting its turn) gets 'close' whatever happens to the request: one listener.
 */
export class ResponseWatch {
  #req: HttpRequest & RequestState
  #res: HttpResponse & ResponseState
  #on: ResponseLifecycleHandlers
  // Only while the response is queued behind a pipelined one (HTTP/1: an HTTP/2 request's
  // `socket` is the whole session, shared by every stream).
  #socket: Socket | null = null
  #queued: boolean
  #done = false
  #onResponseClose = (): void => this.#report(!this.#res.writableEnded, this.#req.errored)
  #onRequestClose: (() => void) | undefined
  #onSocketClose: (() => void) | undefined

  constructor(req: HttpRequest, res: HttpResponse, on: ResponseLifecycleHandlers) {
    this.#req = req as HttpRequest & RequestState
    this.#res = res as HttpResponse & ResponseState
    this.#on = on
    this.#queued = (res as { socket?: unknown }).socket == null
    res.on('close', this.#onResponseClose)
    if (this.#queued) {
      this.#onRequestClose = () => this.#requestClosed()
      req.on('close', this.#onRequestClose)
      if (req.httpVersionMajor === 1 && req.socket != null) {
        this.#socket = req.socket as Socket
        this.#onSocketClose = () => this.#report(!this.#res.writableEnded)
        this.#socket.on('close', this.#onSocketClose)
      }
    }
    if (closed(this.#res)) this.#onResponseClose()
    else if (this.#socket?.destroyed === true) this.#onSocketClose!()
    else this.#requestClosed()
  }

  dispose(): void {
    this.#done = true
    this.#res.removeListener('close', this.#onResponseClose)
    if (!this.#queued) return
    this.#req.removeListener('close', this.#onRequestClose!)
    this.#socket?.removeListener('close', this.#onSocketClose!)
  }

  #requestClosed(): void {
    if (!this.#res.writableEnded && aborted(this.#req)) this.#report(true, this.#req.errored)
  }

  #report(gone: boolean, cause?: Error | null): void {
    if (this.#done) return
    this.dispose()
    if (!gone) this.#on.completed()
    else this.#on.clientGone(stackless(() => new ClientDisconnectedError(undefined, cause ? { cause } : undefined)))
  }
}
