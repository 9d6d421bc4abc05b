// An upstream HTTP server for tests of outbound cancellation: it records each request it receives,
// holds it open as told by its path, and says when the caller's side closed the connection.
import http from 'node:http'
import { closeLater } from './cleanup.ts'
import { type Deferred, deferred } from './deferred.ts'
import { closeServer, listenOnLoopback } from './sockets.ts'

/** One request the upstream received, by the id in its path. */
export interface UpstreamCall {
  /** Resolves when the request arrived. */
  readonly arrived: Promise<void>
  /** Resolves when its connection closed before the upstream ended the response (the caller gave up). */
  readonly closed: Promise<void>
  /** True once `closed` resolved. */
  readonly isClosed: boolean
  /** Ends a held response (`/hold/…`, `/headers-then-hold/…`) normally, with `body`. */
  finish(body?: string): void
}

export interface Upstream {
  /** `http://127.0.0.1:<port>` */
  readonly url: string
  /** The ids of the requests received so far, in order. */
  readonly received: readonly string[]
  /**
   * The call with this id (made on first use, so a test may wait for it before it is sent). Paths:
   * `/hold/<id>` sends nothing and holds the request; `/headers-then-hold/<id>` sends the headers
   * and a first chunk of body, then holds; `/ok/<id>` answers `ok <id>` at once.
   */
  call(id: string): UpstreamCall
  /** Closes the server and its connections (also done by `cleanup()`). */
  close(): Promise<void>
}

interface CallState extends UpstreamCall {
  arrivedAt: Deferred<void>
  closedAt: Deferred<void>
  response: http.ServerResponse | undefined
  ended: boolean
}

/**
 * Starts an upstream on a free loopback port, closed by `cleanup()`.
 *
 * @example
 * const upstream = await startUpstream()
 * const response = fetch(`${upstream.url}/headers-then-hold/a`)
 * await upstream.call('a').closed // the caller aborted: its connection closed
 */
export async function startUpstream(): Promise<Upstream> {
  const calls = new Map<string, CallState>()
  const received: string[] = []
  const call = (id: string): CallState => {
    let state = calls.get(id)
    if (state === undefined) {
      const arrivedAt = deferred<void>()
      const closedAt = deferred<void>()
      state = {
        arrivedAt,
        closedAt,
        response: undefined,
        ended: false,
        arrived: arrivedAt.promise,
        closed: closedAt.promise,
        get isClosed() {
          return closedAt.settled
        },
        finish(body = 'done') {
          const current = calls.get(id)!
          if (current.response === undefined || current.ended) return
          current.ended = true
          current.response.end(body)
        },
      }
      calls.set(id, state)
    }
    return state
  }
  const server = http.createServer((req, res) => {
    const [, kind, id = ''] = (req.url ?? '/').split('/')
    const state = call(id)
    received.push(id)
    state.response = res
    res.on('close', () => {
      if (!res.writableFinished) state.closedAt.resolve()
    })
    state.arrivedAt.resolve()
    if (kind === 'ok') {
      state.ended = true
      res.end(`ok ${id}`)
    } else if (kind === 'headers-then-hold') {
      res.writeHead(200, { 'content-type': 'text/plain' })
      res.write('first chunk;')
    } else if (kind !== 'hold') {
      state.ended = true
      res.writeHead(404).end()
    }
  })
  const port = await listenOnLoopback(server)
  const upstream: Upstream = { url: `http://127.0.0.1:${port}`, received, call, close: () => closeServer(server) }
  return closeLater(upstream)
}
