// Outbound HTTP that stops with its task or request: an undici dispatcher interceptor that aborts
// each request made where `currentSignal()` is set when that signal aborts. Typed structurally, so
// that core needs no undici: it serves npm undici 7 and 8 and the undici 6 inside Node 20 and 22,
// whose handlers speak two APIs (`onConnect(abort)`… and `onRequestStart(controller)`…).
import { invalidType } from '../internal/validation.js'
import { enableScopes, scopeSignal } from '../primitives/current-task-group.js'

/**
 * The dispatch function an undici interceptor receives and returns: `(options, handler) => boolean`.
 * Structural: any undici version's `Dispatcher['dispatch']` fits.
 */
export type InterceptedDispatch = (options: any, handler: any) => boolean

/** An undici dispatcher interceptor, for `dispatcher.compose(…)`. */
export type DispatchInterceptor = (dispatch: InterceptedDispatch) => InterceptedDispatch

type Handler = Record<string, ((...args: any[]) => any) | undefined>

/**
 * An undici dispatcher interceptor that carries {@link currentSignal} to outbound HTTP: a request
 * made where `currentSignal()` is set (in a task, a request handler, background work) is aborted
 * when that signal aborts. The upstream sees its connection close, and the call rejects with the
 * cancellation visible: `fetch()` with a TypeError whose `cause` is the cancellation
 * (a `CancelledError`, or the request's `ClientDisconnectedError`), undici's `request()` with the
 * cancellation itself; a response body still streaming errors with it. A `signal` passed by hand
 * still works as before; requests made outside any scope, or inside {@link shield}, are untouched
 * (they cost one AsyncLocalStorage read). Compose it once, at start, onto the global dispatcher,
 * which Node's own `fetch` uses too (Node 20, 22 and 24; undici 7 and 8). Calling it turns on
 * per-task signals for the process (see `currentSignal()`).
 *
 * The returned interceptor throws a TypeError (`ERR_INVALID_ARG_TYPE`) when given something other
 * than a dispatch function.
 *
 * @example
 * ```ts
 * import { cancellationInterceptor } from '@taskscope/core'
 * import { getGlobalDispatcher, setGlobalDispatcher } from 'undici'
 *
 * setGlobalDispatcher(getGlobalDispatcher().compose(cancellationInterceptor()))
 *
 * app.get('/report', async () => {
 *   const upstream = await fetch(reportUrl) // aborted if the client leaves: no signal passed by hand
 *   return upstream.json()
 * })
 * ```
 */
export function cancellationInterceptor(): DispatchInterceptor {
  enableScopes()
  return function cancellationInterceptor(dispatch: InterceptedDispatch): InterceptedDispatch {
    if (typeof dispatch !== 'function') throw invalidType('The "dispatch" argument of the cancellation interceptor', 'a function', dispatch)
    return function cancellableDispatch(options: unknown, handler: Handler): boolean {
      const signal = scopeSignal()
      if (signal === undefined || handler === null || typeof handler !== 'object') return dispatch(options, handler)
      const cancellable =
        typeof handler.onRequestStart === 'function' ? new ControllerHandler(handler, signal) : new CallbackHandler(handler, signal)
      if (signal.aborted) {
        // Cancelled before it began: nothing is sent, the call fails as a refused dispatch does.
        cancellable.fail(signal.reason)
        return false
      }
      try {
        return dispatch(options, cancellable)
      } catch (error) {
        cancellable.release()
        throw error
      }
    }
  }
}

/**
 * What both handler shapes share: the signal's listener, added for the request's life and removed
 * when it ends; a cancellation before the connection exists fails the call at once and aborts the
 * dispatch as soon as it can be (later callbacks of that dispatch are dropped).
 */
abstract class CancellableHandler {
  protected readonly handler: Handler
  readonly #signal: AbortSignal
  #listening = false
  // Set when the call was failed by us ahead of the dispatcher: what it reports afterwards is dropped.
  protected dropped = false

  constructor(handler: Handler, signal: AbortSignal) {
    this.handler = handler
    this.#signal = signal
    if (!signal.aborted) {
      signal.addEventListener('abort', this.#onAbort, { once: true })
      this.#listening = true
    }
  }

  /** Aborts the dispatch now, if it has started (else returns false). */
  protected abstract abortNow(reason: unknown): boolean

  /** Reports `error` to the caller's handler as the end of the request. */
  abstract fail(error: unknown): void

  #onAbort = (): void => {
    this.#listening = false
    const reason = this.#signal.reason
    if (this.abortNow(reason)) return
    // Not connected yet (queued for a connection): fail the call now; abort once it starts.
    this.fail(reason)
    this.dropped = true
  }

  /** Called when the dispatch starts: aborts it at once if the signal fired meanwhile. */
  protected started(): void {
    if (this.#signal.aborted) this.abortNow(this.#signal.reason)
  }

  /** The request ended (or was never made): stop listening. */
  release(): void {
    if (!this.#listening) return
    this.#listening = false
    this.#signal.removeEventListener('abort', this.#onAbort)
  }
}

/** The callback API: undici 6 (inside Node 20 and 22) and the older handlers undici 7 still takes. */
class CallbackHandler extends CancellableHandler {
  #abort: ((reason?: unknown) => void) | undefined

  protected abortNow(reason: unknown): boolean {
    if (this.#abort === undefined) return false
    this.#abort(reason)
    return true
  }

  fail(error: unknown): void {
    this.release()
    this.handler.onError!(error)
  }

  onConnect(abort: (reason?: unknown) => void, context?: unknown): void {
    this.#abort = abort
    if (!this.dropped) this.handler.onConnect?.(abort, context)
    this.started()
  }

  onResponseStarted(): unknown {
    return this.dropped ? undefined : this.handler.onResponseStarted?.()
  }

  onBodySent(chunk: unknown): unknown {
    return this.dropped ? undefined : this.handler.onBodySent?.(chunk)
  }

  onRequestSent(): unknown {
    return this.dropped ? undefined : this.handler.onRequestSent?.()
  }

  onHeaders(statusCode: number, headers: unknown, resume: () => void, statusText?: string): unknown {
    return this.dropped ? false : this.handler.onHeaders?.(statusCode, headers, resume, statusText)
  }

  onData(chunk: unknown): unknown {
    return this.dropped ? false : this.handler.onData?.(chunk)
  }

  onComplete(trailers: unknown): unknown {
    this.release()
    return this.dropped ? undefined : this.handler.onComplete?.(trailers)
  }

  onUpgrade(statusCode: number, headers: unknown, socket: unknown): unknown {
    this.release()
    return this.dropped ? undefined : this.handler.onUpgrade?.(statusCode, headers, socket)
  }

  onError(error: unknown): unknown {
    this.release()
    return this.dropped ? undefined : this.handler.onError!(error)
  }
}

/** The controller API of undici 7 and 8 (`onRequestStart(controller)`, `onResponseStart`, …). */
class ControllerHandler extends CancellableHandler {
  #controller: { abort(reason: unknown): void } | undefined

  protected abortNow(reason: unknown): boolean {
    if (this.#controller === undefined) return false
    this.#controller.abort(reason)
    return true
  }

  fail(error: unknown): void {
    this.release()
    this.handler.onResponseError?.(this.#controller ?? null, error)
  }

  onRequestStart(controller: { abort(reason: unknown): void }, context: unknown): void {
    this.#controller = controller
    if (!this.dropped) this.handler.onRequestStart!(controller, context)
    this.started()
  }

  onRequestUpgrade(controller: unknown, statusCode: number, headers: unknown, socket: unknown): void {
    this.release()
    if (!this.dropped) this.handler.onRequestUpgrade?.(controller, statusCode, headers, socket)
  }

  onResponseStarted(): unknown {
    return this.dropped ? undefined : this.handler.onResponseStarted?.()
  }

  onResponseStart(controller: unknown, statusCode: number, headers: unknown, statusMessage?: string): void {
    if (!this.dropped) this.handler.onResponseStart?.(controller, statusCode, headers, statusMessage)
  }

  onResponseData(controller: unknown, chunk: unknown): void {
    if (!this.dropped) this.handler.onResponseData?.(controller, chunk)
  }

  onResponseEnd(controller: unknown, trailers: unknown): void {
    this.release()
    if (!this.dropped) this.handler.onResponseEnd?.(controller, trailers)
  }

  onResponseError(controller: unknown, error: unknown): void {
    this.release()
    if (!this.dropped) this.handler.onResponseError?.(controller, error)
  }
}
