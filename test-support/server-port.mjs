// A port for a test server that must keep its address, even across a restart on the same port:
// picked at random below the OS's ephemeral range, so that no server listening on port 0 and no
// outgoing connection of a test running in parallel can be handed it in between.
import { once } from 'node:events'
import { readFileSync } from 'node:fs'
import { createServer } from 'node:net'

const lowest = 10_000

/** The first port of the range the OS hands out for port 0 and outgoing connections. */
function ephemeralStart() {
  try {
    const [start] = readFileSync('/proc/sys/net/ipv4/ip_local_port_range', 'utf8').trim().split(/\s+/).map(Number)
    if (Number.isInteger(start) && start > lowest + 1000) return start
  } catch {}
  return 32_768
}

async function isFree(port) {
  const server = createServer()
  try {
    server.listen(port, '127.0.0.1')
    await once(server, 'listening')
    return true
  } catch {
    return false
  } finally {
    if (server.listening) {
      server.close()
      await once(server, 'close')
    }
  }
}

/**
 * A free TCP port on 127.0.0.1 below the ephemeral range (checked free, then released).
 *
 * @example
 * ```ts
 * const port = await serverPort()
 * spawn('redis-server', ['--port', String(port), '--bind', '127.0.0.1'])
 * ```
 */
export async function serverPort() {
  const end = ephemeralStart()
  for (let attempt = 0; attempt < 100; attempt++) {
    const port = lowest + Math.floor(Math.random() * (end - lowest))
    if (await isFree(port)) return port
  }
  throw new Error(`No free port on 127.0.0.1 between ${lowest} and ${end - 1} after 100 tries`)
}
