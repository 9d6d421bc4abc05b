// Servers on the loopback interface, and a raw TCP client for writing HTTP/1.1 by hand.
import net from 'node:net'
import { track } from './cleanup.ts'

/** Starts `server` (node:http, node:http2 or node:net) on a free port of 127.0.0.1; resolves with the port. */
export function listenOnLoopback(server: net.Server): Promise<number> {
  return new Promise((resolve, reject) => {
    server.once('error', reject)
    server.listen(0, '127.0.0.1', () => {
      server.off('error', reject)
      resolve((server.address() as net.AddressInfo).port)
    })
  })
}

/** Closes `server` and every connection it still has (resolves at once if it is not listening). */
export async function closeServer(server: net.Server): Promise<void> {
  const http = server as net.Server & { closeAllConnections?: () => void }
  http.closeAllConnections?.()
  if (server.listening) await new Promise((resolve) => server.close(resolve))
}

/** Resolves with the number of open connections on a server. */
export function connectionCount(server: net.Server): Promise<number> {
  return new Promise((resolve, reject) => server.getConnections((err, count) => (err ? reject(err) : resolve(count))))
}

export interface RawRequest {
  method?: string
  path: string
  body?: unknown
  headers?: Record<string, string>
}

/** The bytes of one HTTP/1.1 request. An object `body` is sent as JSON with a Content-Length. */
export function rawHttpRequest({ method = 'GET', path, body, headers = {} }: RawRequest): string {
  const lines = [`${method} ${path} HTTP/1.1`, 'Host: 127.0.0.1']
  let payload = ''
  if (body !== undefined) {
    payload = typeof body === 'string' ? body : JSON.stringify(body)
    lines.push('Content-Type: application/json', `Content-Length: ${Buffer.byteLength(payload)}`)
  }
  for (const [name, value] of Object.entries(headers)) lines.push(`${name}: ${value}`)
  return `${lines.join('\r\n')}\r\n\r\n${payload}`
}

export interface RawConnection {
  socket: net.Socket
  /** Everything received so far. */
  received(): string
  /** Resolves with everything received once `predicate` holds for it (rejects if the socket closes first). */
  until(predicate: (received: string) => boolean): Promise<string>
  /** Resolves when the socket has closed. */
  closed: Promise<void>
  write(data: string): void
  destroy(): void
}

/**
 * A TCP socket connected to 127.0.0.1:`port` that records what it receives, destroyed by
 * `cleanup()`. Socket errors after the connection (ECONNRESET after our own destroy) are ignored.
 */
export async function rawConnect(port: number): Promise<RawConnection> {
  const socket = net.connect({ port, host: '127.0.0.1' })
  track('client', () => socket.destroy())
  let data = ''
  const waiters = new Set<() => void>()
  socket.setEncoding('utf8')
  socket.on('data', (chunk: string) => {
    data += chunk
    for (const check of waiters) check()
  })
  socket.on('error', () => {})
  const closed = new Promise<void>((resolve) => socket.once('close', () => resolve()))
  await new Promise<void>((resolve, reject) => {
    socket.once('connect', resolve)
    socket.once('error', reject)
  })
  const until = (predicate: (received: string) => boolean): Promise<string> =>
    new Promise<string>((resolve, reject) => {
      const check = (): void => {
        if (!predicate(data)) return
        waiters.delete(check)
        resolve(data)
      }
      waiters.add(check)
      void closed.then(() => {
        if (!waiters.delete(check)) return
        if (predicate(data)) resolve(data)
        else reject(new Error(`socket closed; received so far: ${JSON.stringify(data)}`))
      })
      check()
    })
  return {
    socket,
    received: () => data,
    until,
    closed,
    write: (chunk) => void socket.write(chunk),
    destroy: () => void socket.destroy(),
  }
}
