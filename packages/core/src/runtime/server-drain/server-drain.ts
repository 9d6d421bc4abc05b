// Graceful close of a node:http(s) server, for frameworks without a lifecycle of their own
// (Express, Koa, plain node:http) and for Fastify's. Node's `server.close()` only reaps connections
// that are idle when it is called: a keep-alive connection busy at that moment stays open after its
// response until the client or `keepAliveTimeout` closes it. So while draining: the response in
// flight on each connection carries `Connection: close` (or its connection is reaped once it
// finishes), requests that still arrive on open keep-alive connections get a 503, and at the
// deadline every connection is closed.
//
// Until the drain begins nothing is done per request (see Http1Connections), unless the server was
// attached with connections already open: then each request is looked at, to pick those up.
import type { IncomingMessage, Server, ServerResponse } from 'node:http'
import { Server as TlsServer } from 'node:tls'
import { deferred } from '../../internal/deferred.js'
import { invalidType } from '../../internal/validation.js'
import { shuttingDown } from '../draining-answer.js'
import { closeAndWait } from './close-wait.js'
import { type DrainableHttp2Server, Http2ServerDrain, isHttp2Server } from './h2-server-drain.js'
import { Http1Connections } from './http1-connections.js'

/** The server {@link ServerDrain} works with: a `node:http` or `node:https` Server. */
export type DrainableHttpServer = Pick<
  Server,
  'on' | 'once' | 'emit' | 'removeListener' | 'close' | 'getConnections' | 'closeIdleConnections' | 'closeAllConnections'
>

/** A server `runtime.attach()` takes: a `node:http`, `node:https` or `node:http2` Server. */
export type DrainableServer = DrainableHttpServer | DrainableHttp2Server

/**
 * The drain of `server`, by its kind. Throws a TypeError (`ERR_INVALID_ARG_TYPE`) when it is
 * neither a `node:http(s)` nor a `node:http2` Server.
 */
export function drainFor(server: DrainableServer): ServerDrain | Http2ServerDrain {
  return isHttp2Server(server) ? new Http2ServerDrain(server) : new ServerDrain(server)
}

/**
 * Tracks a server's connections so that it can later be closed gracefully:
 * {@link ServerDrain.begin} starts, {@link ServerDrain.closed} resolves once every connection
 * has ended, {@link ServerDrain.force} closes what is left. Used by `runtime.attach(server)`.
 *
 * Throws a TypeError when `server` is not a `node:http`/`node:https` Server (HTTP/2 servers
 * have no `closeIdleConnections`: they get an `Http2ServerDrain`). The shutdown begins the drain,
 * forces it past the deadline, and waits for `closed`.
 */
export class ServerDrain {
  /** The server being drained. */
  readonly server: DrainableHttpServer
  /** Its open connections, from the server's connection event to their 'close'. */
  #connections: Http1Connections
  #closed = deferred<void>()
  #draining = false
  /** The event that hands the HTTP parser its connections: 'secureConnection' on a TLS server. */
  #event: 'connection' | 'secureConnection'
  /** Connections accepted before the server was attached, found by their next request. */
  #adopt: ((req: IncomingMessage) => void) | undefined

  constructor(server: DrainableHttpServer) {
    const candidate = server as Partial<DrainableHttpServer> | null
    if (
      typeof candidate !== 'object' ||
      candidate === null ||
      typeof candidate.on !== 'function' ||
      typeof candidate.emit !== 'function' ||
      typeof candidate.close !== 'function' ||
      typeof candidate.getConnections !== 'function' ||
      typeof candidate.closeIdleConnections !== 'function' ||
      typeof candidate.closeAllConnections !== 'function'
    ) {
      throw invalidType('The "server" argument', 'a node:http, node:https or node:http2 Server', server)
    }
    this.server = server
    const connections = (this.#connections = new Http1Connections(server))
    this.#event = server instanceof TlsServer ? 'secureConnection' : 'connection'
    server.on(this.#event, connections.track)
    // Attached late, while connections are open: their requests tell which ones they are.
    server.getConnections((_, count) => {
      if (this.#draining || !(count > connections.size)) return
      this.#adopt = (req) => {
        if (!connections.has(req.socket)) connections.track(req.socket)
      }
      server.on('request', this.#adopt)
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

  /** Number of connections open now. */
  get connections(): number {
    return this.#connections.size
  }

  /**
   * Starts draining: stops accepting connections, closes idle ones, makes the response in flight
   * on each connection carry `Connection: close` (or, when its headers are out already, closes
   * the connection once it has finished), and answers requests that still arrive on open
   * connections with 503 + `Connection: close` + `Retry-After` (they never reach the app; the
   * server's 'request' listeners stay in place). Idempotent.
   */
  begin(): void {
    if (this.#draining) return
    this.#draining = true
    const { server } = this
    // From now on the app sees no new request: they all get the 503 (Fastify's return503OnClosing).
    // The server's 'request' listeners, the app's and any other library's, are left as they are.
    const restore = refuseRequests(server)
    this.#connections.closeWhenDone()
    const closed = (): void => {
      restore()
      server.removeListener(this.#event, this.#connections.track)
      if (this.#adopt !== undefined) server.removeListener('request', this.#adopt)
      this.#closed.resolve()
    }
    closeAndWait(server, closed)
    server.closeIdleConnections()
  }

  /** Closes every connection now, in-flight requests included (the deadline passed). */
  force(): void {
    this.server.closeAllConnections()
  }
}

/**
 * Answers every request the server dispatches from now on with the 503, instead of handing it to
 * its 'request' listeners; returns the function that undoes it. Node's http server dispatches each
 * request with `server.emit('request', req, res)`: intercepting that one event (rather than
 * removing listeners) leaves whatever other code put on the server untouched. A refused request
 * is announced as `'dropRequest'` (request, socket), the event Node itself emits when it answers
 * a request 503 for going over `maxRequestsPerSocket`.
 */
function refuseRequests(server: DrainableHttpServer): () => void {
  const own = Object.hasOwn(server, 'emit')
  const emit = server.emit
  server.emit = function (this: DrainableHttpServer, event: string | symbol, ...args: unknown[]): boolean {
    if (event !== 'request') return Reflect.apply(emit, this, [event, ...args])
    const req = args[0] as IncomingMessage
    refuse(req, args[1] as ServerResponse)
    Reflect.apply(emit, this, ['dropRequest', req, req.socket])
    return true
  } as DrainableHttpServer['emit']
  return () => {
    if (own) server.emit = emit
    else delete (server as Partial<DrainableHttpServer>).emit
  }
}

/** The answer to a request that arrives while the server drains. */
function refuse(req: IncomingMessage, res: ServerResponse): void {
  const { status, headers, body } = shuttingDown(1)
  res.writeHead(status, { ...headers, 'Content-Length': Buffer.byteLength(body) })
  res.end(body)
  req.resume()
}
