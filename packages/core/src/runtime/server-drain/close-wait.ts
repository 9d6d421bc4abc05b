// The close-wait both drains share (node:http(s) and node:http2): stop listening, and learn when
// the server has closed, also when it was not listening any more.
import type { Server } from 'node:net'

/** What of a server the close-wait needs: every node:http, node:https and node:http2 server has it. */
export type ClosableServer = Pick<Server, 'once' | 'close' | 'getConnections'>

/**
 * Stops `server` listening and calls `closed` once it has closed: when every connection has ended,
 * or at once when it was not listening (never, or already closing on the caller's order) and no
 * connection is left.
 */
export function closeAndWait(server: ClosableServer, closed: () => void): void {
  server.once('close', closed) // when every connection has ended
  server.close((error) => {
    // Not listening (never, or already closing on the caller's order): done once no connection is left.
    if (error) server.getConnections((_, count) => count === 0 && closed())
  })
}
