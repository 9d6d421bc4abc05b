// PostgreSQL's cancel request: a separate, short connection carrying the backend's process id and
// secret key. The server signals the backend and closes that connection; once it has closed, the
// signal has been sent, so a query started after that can no longer be hit by it.
import { connect, type Socket } from 'node:net'

/** What a connected node-postgres client knows about its backend. */
export interface BackendKey {
  readonly host: string
  readonly port: number
  readonly processID: number
  readonly secretKey: number
}

/** The protocol's CancelRequest code (1234 << 16 | 5678). */
const cancelRequestCode = 80877102

/** How long a cancel connection may take before it is given up (the query then runs to its end). */
export const cancelRequestTimeout = 10_000

/**
 * Sends a CancelRequest for `key`'s backend. Resolves once the server closed the cancel connection
 * (the backend has been signalled), or with the error that prevented it (never rejects).
 */
export function sendCancelRequest(key: BackendKey): Promise<Error | undefined> {
  return new Promise((resolve) => {
    let socket: Socket
    let failure: Error | undefined
    try {
      socket = key.host.startsWith('/') ? connect(`${key.host}/.s.PGSQL.${key.port}`) : connect({ host: key.host, port: key.port })
    } catch (error) {
      resolve(error as Error)
      return
    }
    const packet = Buffer.alloc(16)
    packet.writeInt32BE(16, 0)
    packet.writeInt32BE(cancelRequestCode, 4)
    packet.writeInt32BE(key.processID, 8)
    packet.writeInt32BE(key.secretKey, 12)
    socket.setNoDelay(true)
    socket.setTimeout(cancelRequestTimeout, () => {
      failure = new Error(`The cancel request to ${key.host}:${key.port} got no answer within ${cancelRequestTimeout} ms`)
      socket.destroy()
    })
    socket.once('connect', () => socket.write(packet))
    socket.once('error', (error) => (failure ??= error))
    // The server answers nothing: it reads the packet, signals the backend and closes.
    socket.resume()
    socket.once('close', () => resolve(failure))
  })
}
