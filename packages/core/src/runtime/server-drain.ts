// Graceful close of a node:http(s) server, for frameworks without a lifecycle of their own
// (Express, Koa, plain node:http). Node's `server.close()` only reaps connections that are idle
// when it is called: a keep-alive connection busy at that moment stays open after its response
// until the client or `keepAliveTimeout` closes it. So while draining: in-flight responses carry
// `Connection: close` (or their connection is reaped once they finish), requests that still
// arrive on open keep-alive connections get a 503, and at the deadline every connection is closed.
import type { IncomingMessage, Server, ServerResponse } from 'node:http'
import { shuttingDownAnswer } from './escaped-cancellation.js'
import { deferred } from '../internal/deferred.js'
import { invalidType } from '../internal/validation.js'

/** The server {@link ServerDrain} works with: a `node:http` or `node:https` Server. */
export type DrainableServer = Pick<
  Server,
  'on' | 'once' | 'removeAllListeners' | 'close' | 'getConnections' | 'closeIdleConnections' | 'closeAllConnections'
>

/**
 * Tracks a server's in-flight responses so that it can later be closed gracefully:
 * {@link ServerDrain.begin} starts, {@link ServerDrain.closed} resolves once every connection
 * has ended, {@link ServerDrain.force} closes what is left. Used by `runtime.attach(server)`.
 *
 * Throws a TypeError when `server` is not a `node:http`/`node:https` Server (HTTP/2 servers
 * have no `closeIdleConnections`).
 *
 * @example
 * ```ts
 * const drain = new ServerDrain(server)
 * drain.begin()
 * const timer = setTimeout(() => drain.force(), 5_000)
 * await drain.closed
 * clearTimeout(timer)
 * ```
 */
export class ServerDrain {
  /** The server being drained. */
  readonly server: DrainableServer
  #inflight = new Set<ServerResponse>()
  #closed = deferred<void>()
  #draining = false

  constructor(server: DrainableServer) {
    const candidate = server as Partial<DrainableServer> | null
    if (
      typeof candidate !== 'object' ||
      candidate === null ||
      typeof candidate.on !== 'function' ||
      typeof candidate.close !== 'function' ||
      typeof candidate.closeIdleConnections !== 'function' ||
      typeof candidate.closeAllConnections !== 'function'
    ) {
      throw invalidType('The "server" argument', 'a node:http or node:https Server', server)
    }
    this.server = server
    const drain = this
    const inflight = this.#inflight
    // One listener function shared by every response (`this` is the response).
    const onResponseClose = function (this: ServerResponse): void {
      inflight.delete(this)
      // Its connection is idle now: without this, keep-alive would hold `server.close()` open.
      if (drain.#draining) server.closeIdleConnections()
    }
    server.on('request', (_req: IncomingMessage, res: ServerResponse) => {
      inflight.add(res)
      res.once('close', onResponseClose)
    })
  }

  /** True once {@link ServerDrain.begin} was called. */
  get draining(): boolean {
    return this.#draining
  }

  /** Resolves once the server has stopped listening and every connection has ended. */
  get closed(): Promise<void> {
    return this.#closed.promise
  }

  /** Number of responses not completed yet. */
  get inflight(): number {
    return this.#inflight.size
  }

  /**
   * Starts draining: stops accepting connections, closes idle ones, makes in-flight responses
   * carry `Connection: close`, and answers requests that still arrive on open connections with
   * 503 + `Connection: close` + `Retry-After` (they never reach the app). Idempotent.
   */
  begin(): void {
    if (this.#draining) return
    this.#draining = true
    const { server } = this
    // From now on the app sees no new request: they all get the 503 (Fastify's return503OnClosing).
    server.removeAllListeners('request')
    server.on('request', refuse)
    for (const res of this.#inflight) {
      if (!res.headersSent) res.setHeader('Connection', 'close')
    }
    const closed = (): void => this.#closed.resolve()
    server.once('close', closed) // when every connection has ended
    server.close((error) => {
      // Not listening (never, or already closing on the caller's order): done once no connection is left.
      if (error) server.getConnections((_, count) => count === 0 && closed())
    })
    server.closeIdleConnections()
  }

  /** Closes every connection now, in-flight requests included (the deadline passed). */
  force(): void {
    this.server.closeAllConnections()
  }
}

/** The answer to a request that arrives while the server drains. */
function refuse(req: IncomingMessage, res: ServerResponse): void {
  const { status, body } = shuttingDownAnswer
  res.writeHead(status, {
    ...shuttingDownAnswer.headers(1),
    'Content-Type': 'text/plain; charset=utf-8',
    'Content-Length': Buffer.byteLength(body),
  })
  res.end(body)
  req.resume()
}
