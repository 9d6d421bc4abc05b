// runtime.attach(server) with TLS servers: a node:https server (its HTTP parser gets its connections
// from 'secureConnection', not 'connection'), and the HTTP/1 connections of a node:http2 secure
// server created with `allowHTTP1`, which drain like a node:https server's.
import { once } from 'node:events'
import type http from 'node:http'
import http2 from 'node:http2'
import https from 'node:https'
import type tls from 'node:tls'
import { closeServer, connectionCount, deferred, listenOnLoopback } from '@taskscope/test-support'
import { afterEach, describe, expect, it } from 'vitest'
import { runtime, useRuntimeServer } from '../server-fixture.ts'
import { cert, key } from '../tls-fixture.ts'

useRuntimeServer()

type Handler = (req: http.IncomingMessage, res: http.ServerResponse) => void

const servers = new Set<tls.Server>()
const agents = new Set<https.Agent>()

afterEach(async () => {
  for (const agent of agents) agent.destroy()
  agents.clear()
  for (const server of servers) await closeServer(server)
  servers.clear()
})

/** Starts `server` on the loopback; returns a GET over HTTP/1.1 on one keep-alive connection. */
async function serve(server: tls.Server): Promise<(path: string) => Promise<http.IncomingMessage>> {
  servers.add(server)
  const port = await listenOnLoopback(server)
  const agent = new https.Agent({ keepAlive: true, maxSockets: 1, ca: cert })
  agents.add(agent)
  return (path) =>
    new Promise((resolve, reject) => {
      https.get({ host: '127.0.0.1', port, path, agent }, (res) => resolve(res.resume())).on('error', reject)
    })
}

/** A handler whose /slow request waits for `gate`; `started` resolves once it arrived. */
function slowRoute() {
  const gate = deferred<void>()
  const started = deferred<void>()
  const handler: Handler = async (req, res) => {
    if (req.url === '/slow') {
      started.resolve()
      await gate.promise
    }
    res.end(req.url)
  }
  return { gate, started, handler }
}

describe('runtime.attach (TLS servers)', () => {
  const secureServers: Array<[string, (handler: Handler) => https.Server | http2.Http2SecureServer]> = [
    ['a node:https server', (handler) => https.createServer({ key, cert }, handler)],
    [
      'the HTTP/1 connections of an allowHTTP1 HTTP/2 server',
      (handler) => http2.createSecureServer({ key, cert, allowHTTP1: true }, handler as never),
    ],
  ]
  it.each(secureServers)('drains %s: the in-flight keep-alive response carries Connection: close', async (_, create) => {
    const { gate, started, handler } = slowRoute()
    const server = create(handler)
    const get = await serve(server)
    runtime.attach(server)
    expect((await get('/warm')).headers.connection).toBe('keep-alive')
    const slow = get('/slow') // the same connection
    await started.promise
    const closing = runtime.close({ timeout: Infinity })
    gate.resolve()
    expect((await slow).headers.connection).toBe('close')
    await closing
    expect(server.listening).toBe(false)
    expect(await connectionCount(server)).toBe(0)
  })

  it('closes an HTTP/1 connection of an allowHTTP1 HTTP/2 server still busy at the deadline', async () => {
    const arrived = deferred<http.IncomingMessage>()
    const server = http2.createSecureServer({ key, cert, allowHTTP1: true }, ((req: http.IncomingMessage) => arrived.resolve(req)) as never)
    const get = await serve(server)
    runtime.attach(server)
    const hung = get('/hung').catch((error: unknown) => error) // never answered
    const req = await arrived.promise
    const closed = once(req.socket, 'close')
    await runtime.close({ timeout: 0 })
    await closed // closed by the server, not by the client
    expect(await hung).toMatchObject({ code: 'ECONNRESET' })
    expect(server.listening).toBe(false)
  })
})
