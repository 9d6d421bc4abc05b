// The HTTP/1 connections of a server, for its drain: a node:http(s) server's, and the HTTP/1
// fallback connections of a node:http2 server created with `allowHTTP1`. Nothing is done per
// request: a connection is kept from the server's connection event until its own 'close' (one
// entry however many requests it carries), and when the drain begins the response in flight on
// each is found through it.
import type { ServerResponse } from 'node:http'
import type { Socket } from 'node:net'

/**
 * A connection of a node:http server. Node keeps the response being written on it as
 * `_httpMessage` (its own `closeIdleConnections()` reads it too); a pipelined response queued behind
 * it takes its place once it finishes.
 */
export type HttpConnection = Socket & { _httpMessage?: ServerResponse | null }

/** The part of the server the connections need: reaping the idle ones (Node's, which knows which are idle). */
interface IdleReaper {
  closeIdleConnections(): void
}

/**
 * @internal A server's open HTTP/1 connections: {@link Http1Connections.track} is the listener
 * for the server's connection event; {@link Http1Connections.closeWhenDone} marks the response in
 * flight on each `Connection: close`, and reaps each connection once it has no response left.
 */
export class Http1Connections {
  #open = new Set<HttpConnection>()
  /** Makes `res` close its connection, then hands the connection on to the next response on it. */
  #closeAfter: (res: ServerResponse) => void
  /** The listener for the server's connection event (one function for every connection). */
  readonly track: (socket: HttpConnection) => void

  constructor(server: IdleReaper) {
    const open = this.#open
    // Listener functions shared by every connection and response (`this` is the emitter).
    const forget = function (this: HttpConnection): void {
      open.delete(this)
    }
    this.track = (socket) => {
      open.add(socket)
      socket.on('close', forget)
    }
    // Once a response closes, the next one queued on its connection (pipelining) must close the
    // connection in its turn; if none is, the connection is idle now: without this, keep-alive
    // would hold `server.close()` open.
    const onResponseClose = function (this: ServerResponse): void {
      const next = (this.req?.socket as HttpConnection | undefined)?._httpMessage
      if (next != null && next !== this) closeAfter(next)
      else server.closeIdleConnections()
    }
    const closeAfter = (this.#closeAfter = (res) => {
      if (!res.headersSent) res.setHeader('Connection', 'close')
      res.once('close', onResponseClose)
    })
  }

  /** Number of connections open now. */
  get size(): number {
    return this.#open.size
  }

  /** True when `socket` is kept. */
  has(socket: Socket): boolean {
    return this.#open.has(socket)
  }

  /**
   * The drain begins: the response in flight on each connection carries `Connection: close` (or,
   * when its headers are out already, its connection is reaped once it has finished), and so does
   * each pipelined response in its turn. Idle connections are the caller's to close.
   */
  closeWhenDone(): void {
    for (const socket of this.#open) {
      if (socket._httpMessage != null) this.#closeAfter(socket._httpMessage)
    }
  }

  /** Destroys every connection still open (the deadline passed). */
  destroyAll(): void {
    for (const socket of this.#open) socket.destroy()
  }
}
