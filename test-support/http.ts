// A node:http client that gives the test the request object (to destroy it mid-flight) and the socket.
import http from 'node:http'
import type net from 'node:net'
import { track } from './cleanup.ts'
import type { RawRequest } from './sockets.ts'

export interface HttpResponse {
  status: number
  headers: http.IncomingHttpHeaders
  body: string
  /** The client side of the TCP connection the response came on. */
  socket: net.Socket
  /** The server-side port of the TCP connection, to tell sockets apart. */
  localPort: number | undefined
  json<T = any>(): T
}

export interface HttpCall {
  req: http.ClientRequest
  /** The response; rejects if the request is destroyed (never an unhandled rejection). */
  response: Promise<HttpResponse>
}

export interface HttpCallOptions extends RawRequest {
  /** Default: `false` (a fresh connection, closed after the response). */
  agent?: http.Agent | false
}

/** One request with `http.request` to 127.0.0.1:`port`. Destroy `req` to simulate the client going away. */
export function httpRequest(port: number, options: HttpCallOptions): HttpCall {
  const { method = 'GET', path, body, headers = {}, agent = false } = options
  let payload: string | undefined
  const allHeaders: Record<string, string> = { ...headers }
  if (body !== undefined) {
    payload = typeof body === 'string' ? body : JSON.stringify(body)
    allHeaders['content-type'] ??= 'application/json'
    allHeaders['content-length'] = String(Buffer.byteLength(payload))
  }
  const req = http.request({ host: '127.0.0.1', port, method, path, headers: allHeaders, agent })
  if (agent === false) track('client', () => req.destroy())
  const response = new Promise<HttpResponse>((resolve, reject) => {
    req.once('error', reject)
    req.once('response', (res) => {
      const socket = res.socket
      const localPort = socket?.localPort
      let text = ''
      res.setEncoding('utf8')
      res.on('data', (chunk: string) => {
        text += chunk
      })
      res.once('error', reject)
      res.once('end', () =>
        resolve({
          status: res.statusCode ?? 0,
          headers: res.headers,
          body: text,
          socket,
          localPort,
          json: () => JSON.parse(text),
        }),
      )
    })
  })
  response.catch(() => {})
  req.end(payload)
  return { req, response }
}

/** A keep-alive agent with one socket, so sequential requests share one connection; destroyed by `cleanup()`. */
export function keepAliveAgent(): http.Agent {
  const agent = new http.Agent({ keepAlive: true, maxSockets: 1 })
  track('client', () => agent.destroy())
  return agent
}

/** Number of sockets an agent still holds (busy or idle). */
export function agentSocketCount(agent: http.Agent): number {
  const count = (pool: NodeJS.ReadOnlyDict<unknown[]>): number => Object.values(pool).reduce((n, list) => n + (list?.length ?? 0), 0)
  return count(agent.sockets) + count(agent.freeSockets)
}
