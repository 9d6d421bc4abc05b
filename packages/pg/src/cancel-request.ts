// PostgreSQL's cancel request: a separate, short connection carrying the backend's process id and
// secret key. The server signals the backend and closes that connection; once it has closed, the
// signal has been sent, so a query started after that can no longer be hit by it.
//
// Opening that connection is most of the cost: the server starts a process for every connection it
// accepts. So one connection per server is opened ahead, while cancellable queries run, and kept
// unused: a cancel request then only writes to it. The server closes an unused one after its
// authentication_timeout (60 s by default) without logging anything; it is unref'd, so it never
// keeps the process alive. PostgreSQL (up to 16 at least) looks the backend up in the list of
// backends its connection process was started with: a connection opened before the backend
// existed cannot cancel it, so one is only used for backends that were running when it was opened.
import { connect, type Socket } from 'node:net'

/** What a connected node-postgres client knows about its backend. */
export interface BackendKey {
  readonly host: string
  readonly port: number
  readonly processID: number
  readonly secretKey: number
  /** A moment (`performance.now()`) when that backend was already running. */
  readonly since: number
}

/** The protocol's CancelRequest code (1234 << 16 | 5678). */
const cancelRequestCode = 80877102

/** How long a cancel connection may take before it is given up (the query then runs to its end). */
export const cancelRequestTimeout = 10_000

interface Spare {
  readonly socket: Socket
  connected: boolean
  /** When it was opened (`performance.now()`). */
  readonly openedAt: number
}

/** The connection kept ready for the next cancel request, per server (`host:port`). */
const spares = new Map<string, Spare>()

function open(host: string, port: number): Socket {
  return host.startsWith('/') ? connect(`${host}/.s.PGSQL.${port}`) : connect({ host, port })
}

/**
 * Opens a connection for the next cancel request to this server, unless one opened after
 * `backendSince` (a moment the backend to cancel was already running) is open already. Never throws.
 */
export function prepareCancelRequest(host: string, port: number, backendSince: number): void {
  const key = `${host}:${port}`
  const current = spares.get(key)
  if (current !== undefined) {
    if (current.openedAt > backendSince) return
    spares.delete(key)
    current.socket.destroy() // closed before sending anything: the server logs nothing
  }
  let socket: Socket
  try {
    socket = open(host, port)
  } catch {
    return
  }
  const spare: Spare = { socket, connected: false, openedAt: performance.now() }
  spares.set(key, spare)
  socket.unref()
  socket.setNoDelay(true)
  socket.once('connect', () => (spare.connected = true))
  socket.on('error', () => socket.destroy())
  socket.once('close', () => {
    if (spares.get(key) === spare) spares.delete(key)
  })
}

/** The connection kept ready for this server if it can cancel a backend running since `backendSince` (it is taken, and another opened), or a new one. */
function takeConnection(host: string, port: number, backendSince: number): { socket: Socket; connected: boolean } {
  const key = `${host}:${port}`
  const spare = spares.get(key)
  if (spare?.connected && !spare.socket.destroyed && spare.openedAt > backendSince) {
    spares.delete(key)
    spare.socket.removeAllListeners('error')
    spare.socket.ref()
    // The next one, opened now: ready (and able to see every backend running now) for the next cancel.
    prepareCancelRequest(host, port, performance.now())
    return spare
  }
  return { socket: open(host, port), connected: false }
}

/**
 * Sends a CancelRequest for `key`'s backend. Resolves once the server closed the cancel connection
 * (the backend has been signalled), or with the error that prevented it (never rejects).
 */
export function sendCancelRequest(key: BackendKey): Promise<Error | undefined> {
  return new Promise((resolve) => {
    let socket: Socket
    let connected: boolean
    let failure: Error | undefined
    try {
      ;({ socket, connected } = takeConnection(key.host, key.port, key.since))
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
    if (connected) socket.write(packet)
    else socket.once('connect', () => socket.write(packet))
    socket.once('error', (error) => (failure ??= error))
    // The server answers nothing: it reads the packet, signals the backend and closes.
    socket.resume()
    socket.once('close', () => resolve(failure))
  })
}
