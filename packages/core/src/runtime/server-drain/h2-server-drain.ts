// Graceful close of a node:http2 server (`http2.createServer`, `http2.createSecureServer`, Fastify
// with `http2: true`). `server.close()` stops accepting, but an HTTP/2 session outlives it for as
// long as its client keeps it (or one of its streams) open. So while draining, every session gets
// a GOAWAY (`session.close()`: its streams in flight may finish, no new one is accepted), and at
// the deadline every session still open is destroyed.
//
// Sessions are kept from the server's 'session' event until their own 'close': nothing is retained
// for a session once it has closed. A secure server created with `allowHTTP1` also serves HTTP/1
// connections: those drain as a node:https server's do (see Http1Connections).
import type { Http2SecureServer, Http2Server, ServerHttp2Session } from 'node:http2'
import { deferred } from '../../internal/deferred.js'
import { closeAndWait } from './close-wait.js'
import { Http1Connections, type HttpConnection } from './http1-connections.js'

/** The HTTP/2 server {@link Http2ServerDrain} works with. */
export type DrainableHttp2Server = Pick<
  Http2Server | Http2SecureServer,
  'on' | 'once' | 'removeListener' | 'close' | 'getConnections' | 'updateSettings'
>

/** True for what looks like a node:http2 server (`updateSettings` is theirs alone). */
export function isHttp2Server(server: unknown): server is DrainableHttp2Server {
  const candidate = server as Partial<DrainableHttp2Server> | null
  return (
    typeof candidate === 'object' &&
    candidate !== null &&
    typeof candidate.on === 'function' &&
    typeof candidate.close === 'function' &&
    typeof candidate.getConnections === 'function' &&
    typeof candidate.updateSettings === 'function'
  )
}

/**
 * Tracks a node:http2 server's sessions so that it can later be closed gracefully, with the same
 * shape as the HTTP/1 `ServerDrain`: {@link Http2ServerDrain.begin} stops accepting and sends every
 * session a GOAWAY, {@link Http2ServerDrain.closed} resolves once every session has ended,
 * {@link Http2ServerDrain.force} destroys the sessions still open. Used by `runtime.attach(server)`.
 */
export class Http2ServerDrain {
  /** The server being drained. */
  readonly server: DrainableHttp2Server
  #sessions = new Set<ServerHttp2Session>()
  #closed = deferred<void>()
  #draining = false
  #track: (session: ServerHttp2Session) => void
  /** HTTP/1 connections (`allowHTTP1`), by the protocol their TLS handshake chose. */
  #http1: Http1Connections
  #trackHttp1: (socket: HttpConnection & { alpnProtocol?: string | false }) => void

  constructor(server: DrainableHttp2Server) {
    this.server = server
    // Node's `closeIdleConnections()` of an `allowHTTP1` server reaps its idle HTTP/1 connections.
    const reaper = server as DrainableHttp2Server & { closeIdleConnections?(): void }
    const http1 = (this.#http1 = new Http1Connections({ closeIdleConnections: () => reaper.closeIdleConnections?.() }))
    this.#trackHttp1 = (socket) => {
      if (socket.alpnProtocol !== 'h2') http1.track(socket)
    }
    server.on('secureConnection', this.#trackHttp1)
    const sessions = this.#sessions
    // One listener function shared by every session (`this` is the session).
    const forget = function (this: ServerHttp2Session): void {
      sessions.delete(this)
    }
    this.#track = (session) => {
      if (session.closed || session.destroyed) return
      sessions.add(session)
      session.once('close', forget)
      if (this.#draining) session.close() // accepted just before the server stopped listening
    }
    server.on('session', this.#track)
  }

  /** True once {@link Http2ServerDrain.begin} was called. */
  get draining(): boolean {
    return this.#draining
  }

  /** Resolves once the server has stopped listening and every session has ended. */
  get closed(): Promise<void> {
    return this.#closed.promise
  }

  /** Number of sessions open now. */
  get sessions(): number {
    return this.#sessions.size
  }

  /**
   * Starts draining: stops accepting connections and sends every open session a GOAWAY; the
   * response in flight on each HTTP/1 connection (`allowHTTP1`) carries `Connection: close`, and
   * idle ones are closed. Idempotent.
   */
  begin(): void {
    if (this.#draining) return
    this.#draining = true
    const { server } = this
    const closed = (): void => {
      server.removeListener('session', this.#track)
      server.removeListener('secureConnection', this.#trackHttp1)
      this.#closed.resolve()
    }
    closeAndWait(server, closed)
    for (const session of this.#sessions) session.close()
    this.#http1.closeWhenDone()
  }

  /** Destroys every session and HTTP/1 connection still open, streams in flight included (the deadline passed). */
  force(): void {
    for (const session of this.#sessions) session.destroy()
    this.#http1.destroyAll()
  }
}
