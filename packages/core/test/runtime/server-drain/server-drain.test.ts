// runtime.attach(server): draining a real node:http server on shutdown (idle and busy keep-alive
// connections, requests that arrive while draining, connections still open at the deadline), and a
// real node:http2 server (GOAWAY to its sessions, the ones still open destroyed at the deadline).
import { once } from 'node:events'
import http from 'node:http'
import http2 from 'node:http2'
import type net from 'node:net'
import { ShutdownError, type TaskGroup } from '@taskscope/core'
import { closeServer, connectionCount, deferred, listenOnLoopback, type RawConnection } from '@taskscope/test-support'
import { afterEach, describe, expect, it } from 'vitest'
// The drains are internal: imported from the build by path, for their bookkeeping.
import { Http2ServerDrain } from '../../../dist/runtime/server-drain/h2-server-drain.js'
import { ServerDrain } from '../../../dist/runtime/server-drain/server-drain.js'
import { connect, fixture, get, runtime, server, useRuntimeServer } from '../server-fixture.ts'

useRuntimeServer()

/** Everything a raw connection received, once the server has closed it. */
async function rawResponse(connection: RawConnection): Promise<string> {
  await connection.closed
  return connection.received()
}

describe('runtime.attach (server drain)', () => {
  it('closes idle keep-alive connections, lets a slow request finish with Connection: close, then resolves', async () => {
    const gate = deferred<void>()
    const slowStarted = deferred<void>()
    fixture.handle = async (req, res) => {
      if (req.url === '/slow') {
        slowStarted.resolve()
        await gate.promise
      }
      res.end(req.url)
    }
    runtime.attach(server)
    const agent = new http.Agent({ keepAlive: true, maxSockets: 2 })
    try {
      const slow = get('/slow', agent) // connection 1: busy when the drain begins
      await slowStarted.promise
      const fast = await get('/fast', agent) // connection 2, idle once answered
      expect(fast.headers.connection).toBe('keep-alive')
      const idleClosed = fast.socket.closed ? Promise.resolve() : once(fast.socket, 'close')
      const closing = runtime.close({ timeout: Infinity })
      await idleClosed // reaped at once: it was idle
      gate.resolve()
      const response = await slow
      expect(response.body).toBe('/slow')
      expect(response.headers.connection).toBe('close')
      const summary = await closing
      expect(summary.requests.cancelled).toBe(0)
      expect(server.listening).toBe(false)
      const connections = await connectionCount(server)
      expect(connections).toBe(0)
    } finally {
      agent.destroy()
    }
  })

  it('answers a request that arrives on an open connection while draining with 503 + Connection: close', async () => {
    const reached: string[] = []
    const gate = deferred<void>()
    const started = deferred<void>()
    fixture.handle = async (req, res) => {
      reached.push(req.url!)
      res.writeHead(200, { 'Content-Length': '2' })
      res.flushHeaders() // headers out before the drain: this response cannot carry Connection: close
      started.resolve()
      await gate.promise
      res.end('ok')
    }
    runtime.attach(server)
    const socket = await connect()
    const response = rawResponse(socket)
    socket.write('GET /first HTTP/1.1\r\nHost: t\r\n\r\n')
    await started.promise
    const closing = runtime.close({ timeout: Infinity })
    const refused = once(server, 'dropRequest') // announced as Node announces its own 503s
    socket.write('GET /late HTTP/1.1\r\nHost: t\r\n\r\n') // same keep-alive connection, after the drain began
    const [late] = (await refused) as [http.IncomingMessage]
    expect(late.url).toBe('/late')
    gate.resolve()
    const text = await response
    const [first, answer] = text.split(/(?=HTTP\/1\.1 )/)
    expect(first).toMatch(/^HTTP\/1\.1 200 /)
    expect(answer).toMatch(/^HTTP\/1\.1 503 /)
    expect(answer).toMatch(/\r\nconnection: close\r\n/i)
    expect(answer).toMatch(/\r\nretry-after: 1\r\n/i)
    expect(reached).toEqual(['/first']) // the late request never reached the app
    await closing
  })

  it('closes the connection with the pipelined response queued behind one whose headers were out', async () => {
    const gate = deferred<void>()
    const firstClosed = deferred<void>()
    const arrived = deferred<void>()
    fixture.handle = async (req, res) => {
      if (req.url === '/first') {
        res.once('close', () => firstClosed.resolve())
        res.writeHead(200, { 'Content-Length': '2' })
        res.flushHeaders() // out before the drain: this response cannot carry Connection: close
        await gate.promise
        res.end('ok')
      } else {
        arrived.resolve()
        await firstClosed.promise // its turn comes once /first has finished
        res.end('second')
      }
    }
    runtime.attach(server)
    const socket = await connect()
    const response = rawResponse(socket)
    socket.write('GET /first HTTP/1.1\r\nHost: t\r\n\r\nGET /second HTTP/1.1\r\nHost: t\r\n\r\n')
    await arrived.promise
    const closing = runtime.close({ timeout: Infinity })
    gate.resolve()
    const [first, second] = (await response).split(/(?=HTTP\/1\.1 )/)
    expect(first).toMatch(/^HTTP\/1\.1 200 /)
    expect(first).not.toMatch(/connection: close/i)
    expect(second).toMatch(/^HTTP\/1\.1 200 /)
    expect(second).toMatch(/\r\nconnection: close\r\n/i)
    expect(second).toMatch(/second$/)
    await closing
  })

  it('also drains the connections a server accepted before it was attached', async () => {
    const gate = deferred<void>()
    const started = deferred<void>()
    fixture.handle = async (req, res) => {
      if (req.url === '/slow') {
        started.resolve()
        await gate.promise
      }
      res.end(req.url)
    }
    const agent = new http.Agent({ keepAlive: true, maxSockets: 1 })
    try {
      expect((await get('/early', agent)).headers.connection).toBe('keep-alive') // the connection is open before attach
      runtime.attach(server)
      await new Promise<void>((resolve) => server.getConnections(() => resolve())) // attach's own count has answered
      const slow = get('/slow', agent) // the same connection
      await started.promise
      const closing = runtime.close({ timeout: Infinity })
      gate.resolve()
      expect((await slow).headers.connection).toBe('close')
      await closing
      expect(await connectionCount(server)).toBe(0)
    } finally {
      agent.destroy()
    }
  })

  it('at the deadline cancels groups with ShutdownError and closes connections that are still open', async () => {
    const started = deferred<TaskGroup>()
    fixture.handle = (req, res) => {
      const group = runtime.requestGroup(req, res)
      group.createTask(() => new Promise(() => {})) // ignores its signal: never ends by itself
      started.resolve(group)
      void res
    }
    runtime.attach(server)
    const socket = await connect()
    const response = rawResponse(socket)
    socket.write('GET /hung HTTP/1.1\r\nHost: t\r\n\r\n')
    const group = await started.promise
    const summary = await runtime.close({ timeout: 0 })
    expect(group.signal.reason).toBeInstanceOf(ShutdownError)
    expect(summary.requests).toEqual({ inFlight: 1, cancelled: 1, abandoned: 1 })
    expect(await response).toBe('') // the connection was closed without an answer
    expect(server.listening).toBe(false)
  })

  it('does not wait for a server that is not listening', async () => {
    const idle = http.createServer()
    runtime.attach(idle)
    expect(runtime.attach(idle)).toBe(idle) // attaching twice is harmless
    const summary = await runtime.close({ timeout: Infinity })
    expect(summary.requests).toEqual({ inFlight: 0, cancelled: 0, abandoned: 0 })
  })

  it('rejects what is neither a node:http(s) nor a node:http2 server', () => {
    let error: unknown
    try {
      runtime.attach({} as never)
    } catch (thrown) {
      error = thrown
    }
    expect(error).toBeInstanceOf(TypeError)
    expect(error).toMatchObject({ code: 'ERR_INVALID_ARG_TYPE' })
    expect((error as Error).message).toMatch(/The "server" argument must be a node:http, node:https or node:http2 Server/)
  })
})

describe('ServerDrain bookkeeping', () => {
  it('keeps nothing for connections destroyed mid-flight with a pipelined response queued', async () => {
    const drain = new ServerDrain(server)
    let arrived = deferred<net.Socket>()
    // Neither is answered: /first holds the connection, /second's response stays queued behind it.
    fixture.handle = (req) => {
      if (req.url === '/second') arrived.resolve(req.socket)
    }
    const connections = 200
    for (let i = 0; i < connections; i++) {
      arrived = deferred<net.Socket>()
      const client = await connect()
      client.write('GET /first HTTP/1.1\r\nHost: t\r\n\r\nGET /second HTTP/1.1\r\nHost: t\r\n\r\n')
      const serverSide = await arrived.promise
      if (i === 0) expect(drain.connections).toBe(1)
      const closed = once(serverSide, 'close')
      client.destroy()
      await closed
    }
    expect(drain.connections).toBe(0)
  })

  it('does nothing per request until the drain begins: no listener on the response, none on the server', async () => {
    const responseListeners: number[] = []
    fixture.handle = (_req, res) => {
      responseListeners.push(res.listenerCount('close') + res.listenerCount('finish'))
      res.end('ok')
    }
    const requestListeners = server.listenerCount('request')
    expect((await get('/unattached')).body).toBe('ok')
    runtime.attach(server)
    expect((await get('/attached')).body).toBe('ok')
    expect(responseListeners[1]).toBe(responseListeners[0])
    expect(server.listenerCount('request')).toBe(requestListeners)
  })

  it('keeps nothing after keep-alive responses complete, and no listener piles up on the connection', async () => {
    const drain = new ServerDrain(server)
    const sockets = new Set<net.Socket>()
    const listeners: number[] = []
    fixture.handle = (req, res) => {
      sockets.add(req.socket)
      listeners.push(req.socket.listenerCount('close'))
      res.end('ok')
    }
    const agent = new http.Agent({ keepAlive: true, maxSockets: 1 })
    try {
      for (let i = 0; i < 50; i++) expect((await get(`/${i}`, agent)).body).toBe('ok')
    } finally {
      agent.destroy()
    }
    expect(sockets.size).toBe(1)
    expect(Math.max(...listeners) - Math.min(...listeners)).toBe(0)
    const [socket] = sockets
    if (!socket!.closed) await once(socket!, 'close')
    expect(drain.connections).toBe(0)
  })
})

describe('ServerDrain and other request listeners', () => {
  it("leaves another library's 'request' listener on the server after shutdown", async () => {
    const seen: string[] = []
    const library = (req: http.IncomingMessage): void => void seen.push(req.url!)
    server.on('request', library)
    fixture.handle = (_req, res) => res.end('ok')
    runtime.attach(server)
    const client = await connect()
    client.write('GET /before HTTP/1.1\r\nHost: t\r\n\r\n')
    await client.until((text) => text.includes('\r\n\r\nok'))
    expect(seen).toEqual(['/before'])
    await runtime.close({ timeout: Infinity })
    await client.closed
    expect(server.listeners('request')).toContain(library)
    expect(server.listenerCount('request')).toBe(2) // the app's handler and the library's
    expect(client.received()).toMatch(/^HTTP\/1\.1 200 /)
  })
})

describe('runtime.attach (HTTP/2 server drain)', () => {
  let h2: http2.Http2Server
  let h2url: string
  const clients = new Set<http2.ClientHttp2Session>()

  /** A client session, destroyed after the test; resolves with the server's side of it too. */
  async function h2session(): Promise<{ client: http2.ClientHttp2Session; session: http2.ServerHttp2Session }> {
    const accepted = once(h2, 'session') as Promise<[http2.ServerHttp2Session]>
    const client = http2.connect(h2url)
    clients.add(client)
    client.on('error', () => {})
    await once(client, 'connect')
    const [session] = await accepted
    return { client, session }
  }

  const startH2 = async (handler: (req: http2.Http2ServerRequest, res: http2.Http2ServerResponse) => void): Promise<void> => {
    h2 = http2.createServer(handler)
    h2url = `http://127.0.0.1:${await listenOnLoopback(h2)}`
  }

  afterEach(async () => {
    for (const client of clients) client.destroy()
    clients.clear()
    await closeServer(h2)
  })

  it('sends an idle session a GOAWAY and resolves once it has closed', async () => {
    await startH2((_req, res) => res.end('ok'))
    runtime.attach(h2)
    const { client, session } = await h2session()
    const goaway = once(client, 'goaway')
    const summary = await runtime.close({ timeout: Infinity })
    await goaway
    expect(session.closed).toBe(true)
    expect(summary.requests.cancelled).toBe(0)
    expect(h2.listening).toBe(false)
  })

  it('destroys a session whose stream body never ends, at the deadline', async () => {
    const arrived = deferred<void>()
    await startH2(() => arrived.resolve()) // never answers: waits for a body that never ends
    runtime.attach(h2)
    const { client, session } = await h2session()
    const upload = client.request({ ':method': 'POST', ':path': '/upload', 'content-length': 1000 })
    upload.on('error', () => {})
    upload.write('{"a":')
    await arrived.promise
    const clientClosed = once(client, 'close')
    await runtime.close({ timeout: 0 })
    await clientClosed
    expect(session.destroyed).toBe(true)
    expect(h2.listening).toBe(false)
  })

  it('keeps nothing for sessions once they close, and no listener piles up on the server', async () => {
    await startH2((_req, res) => res.end('ok'))
    const drain = new Http2ServerDrain(h2)
    const listeners = h2.listenerCount('session')
    for (let i = 0; i < 100; i++) {
      const { client, session } = await h2session()
      const stream = client.request({ ':path': '/' })
      stream.resume()
      await once(stream, 'end')
      if (i === 0) expect(drain.sessions).toBe(1)
      expect(session.listenerCount('close')).toBeGreaterThan(0)
      const closed = once(session, 'close')
      client.close()
      await closed
      clients.delete(client)
    }
    expect(drain.sessions).toBe(0)
    expect(h2.listenerCount('session')).toBe(listeners)
  })
})
