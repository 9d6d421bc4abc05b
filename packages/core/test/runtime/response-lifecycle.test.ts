// watchResponse against real node:http and node:http2 servers and real client sockets.
import { once } from 'node:events'
import http from 'node:http'
import http2 from 'node:http2'
import type net from 'node:net'
import { ClientDisconnectedError } from '@taskscope/core'
import { type HttpRequest, type HttpResponse, watchResponse } from '@taskscope/core/adapter'
import { closeServer, deferred, flush, listenOnLoopback, rawConnect } from '@taskscope/test-support'
import { afterEach, beforeEach, describe, expect, it } from 'vitest'

type Outcome = { kind: 'gone'; reason: ClientDisconnectedError } | { kind: 'completed' }

/** Watches a request; `outcome` resolves with what was reported; `reports` counts reports. */
function watch(req: HttpRequest, res: HttpResponse) {
  const outcome = deferred<Outcome>()
  const state = { reports: 0, dispose: () => {} }
  state.dispose = watchResponse(req, res, {
    clientGone: (reason) => {
      state.reports++
      outcome.resolve({ kind: 'gone', reason })
    },
    completed: () => {
      state.reports++
      outcome.resolve({ kind: 'completed' })
    },
  })
  return { outcome: outcome.promise, state }
}

/** Reads a request body to the end. */
async function readBody(req: HttpRequest): Promise<string> {
  let body = ''
  for await (const chunk of req) body += chunk
  return body
}

/** Waits until the request's 'close' was emitted (Node closes a request once its body is read). */
async function requestClosed(req: HttpRequest): Promise<void> {
  if (!(req as { closed?: boolean }).closed) await once(req, 'close')
}

let server: http.Server
let port: number
let handle: (req: http.IncomingMessage, res: http.ServerResponse) => void

beforeEach(async () => {
  server = http.createServer((req, res) => handle(req, res))
  port = await listenOnLoopback(server)
})

afterEach(() => closeServer(server))

/** A raw client connection to the server. */
const connect = () => rawConnect(port)

describe('watchResponse over HTTP/1.1', () => {
  it('reports a GET whose client disconnects mid-handler as gone', async () => {
    const watched = deferred<ReturnType<typeof watch>>()
    handle = (req, res) => watched.resolve(watch(req, res))
    const socket = await connect()
    socket.write('GET /slow HTTP/1.1\r\nHost: test\r\n\r\n')
    const { outcome, state } = await watched.promise
    socket.destroy()
    const result = await outcome
    expect(result.kind).toBe('gone')
    expect(result.kind === 'gone' && result.reason).toBeInstanceOf(ClientDisconnectedError)
    expect(result.kind === 'gone' && result.reason.code).toBe('ERR_CLIENT_CLOSED_REQUEST')
    await flush()
    expect(state.reports).toBe(1)
  })

  it('does not report a POST whose body was read until its client really leaves', async () => {
    const bodyRead = deferred<ReturnType<typeof watch> & { body: string }>()
    handle = async (req, res) => {
      const watched = watch(req, res) // attached before the body is read: req 'close' will fire
      const body = await readBody(req)
      await requestClosed(req)
      bodyRead.resolve({ ...watched, body })
    }
    const socket = await connect()
    const payload = JSON.stringify({ hello: 'world' })
    socket.write(
      `POST /upload HTTP/1.1\r\nHost: test\r\nContent-Type: application/json\r\nContent-Length: ${payload.length}\r\n\r\n${payload}`,
    )
    const { outcome, state, body } = await bodyRead.promise
    expect(body).toBe(payload)
    await flush()
    expect(state.reports).toBe(0) // the request's own 'close' (body done) is not a disconnect
    socket.destroy()
    expect((await outcome).kind).toBe('gone')
  })

  it('reports completion (never a disconnect) for GET and POST responses', async () => {
    const outcomes: Promise<Outcome>[] = []
    handle = async (req, res) => {
      outcomes.push(watch(req, res).outcome)
      await readBody(req)
      res.end('done')
    }
    const agent = new http.Agent({ keepAlive: true, maxSockets: 1 })
    try {
      for (const method of ['GET', 'POST']) {
        const response = await fetchText(`http://127.0.0.1:${port}/`, { method, agent, body: method === 'POST' ? '{"a":1}' : undefined })
        expect(response).toBe('done')
      }
    } finally {
      agent.destroy()
    }
    expect(await Promise.all(outcomes)).toEqual([{ kind: 'completed' }, { kind: 'completed' }])
  })

  it.each([
    ['GET', ''],
    ['POST', 'x'.repeat(16)],
  ])('reports a pipelined %s whose response is still queued as gone', async (method, payload) => {
    const first = deferred<void>()
    const second = deferred<ReturnType<typeof watch>>()
    handle = async (req, res) => {
      if (req.url === '/first') return first.resolve() // never answers: the second response stays queued
      const watched = watch(req, res)
      if (payload) {
        await readBody(req)
        await requestClosed(req)
      }
      second.resolve(watched)
    }
    const socket = await connect()
    const headers = payload ? `Content-Length: ${payload.length}\r\n` : ''
    socket.write(`GET /first HTTP/1.1\r\nHost: test\r\n\r\n${method} /second HTTP/1.1\r\nHost: test\r\n${headers}\r\n${payload}`)
    await first.promise
    const { outcome, state } = await second.promise
    await flush()
    expect(state.reports).toBe(0)
    socket.destroy()
    expect((await outcome).kind).toBe('gone')
  })

  it.each([
    ['GET', ''],
    ['POST', 'x'.repeat(16)],
  ])('reports a pipelined %s whose response ended while queued as completed when the client then leaves', async (method, payload) => {
    const first = deferred<void>()
    const second = deferred<ReturnType<typeof watch> & { serverSocket: net.Socket }>()
    handle = async (req, res) => {
      if (req.url === '/first') return first.resolve() // never answers: the second response stays queued
      const watched = watch(req, res)
      if (payload) await readBody(req)
      res.end('done') // ended, but it waits for its turn behind /first: no 'close' will ever come
      second.resolve({ ...watched, serverSocket: req.socket as net.Socket })
    }
    const socket = await connect()
    const headers = payload ? `Content-Length: ${payload.length}\r\n` : ''
    socket.write(`GET /first HTTP/1.1\r\nHost: test\r\n\r\n${method} /second HTTP/1.1\r\nHost: test\r\n${headers}\r\n${payload}`)
    await first.promise
    const { outcome, state, serverSocket } = await second.promise
    await flush()
    expect(state.reports).toBe(0)
    const serverSideClosed = once(serverSocket, 'close')
    socket.destroy()
    await serverSideClosed
    expect(state.reports).toBe(1)
    expect(await outcome).toEqual({ kind: 'completed' })
  })

  it('leaves no listener behind over 1,000 keep-alive requests on one socket, and no warning', async () => {
    const warnings: Error[] = []
    const onWarning = (warning: Error): void => void warnings.push(warning)
    process.on('warning', onWarning)
    const counts: Array<{ socket: number; request: number; response: number }> = []
    const outcomes: Promise<Outcome>[] = []
    let socket: net.Socket | undefined
    handle = (req, res) => {
      socket ??= req.socket
      const before = {
        socket: req.socket.listenerCount('close'),
        request: req.listenerCount('close'),
        response: res.listenerCount('close'),
      }
      outcomes.push(watch(req, res).outcome)
      res.once('close', () => {
        // Runs after watchResponse's own listener, which removed everything it had added.
        counts.push({
          socket: req.socket.listenerCount('close') - before.socket,
          request: req.listenerCount('close') - before.request,
          response: res.listenerCount('close') - before.response,
        })
      })
      res.end('ok')
    }
    const agent = new http.Agent({ keepAlive: true, maxSockets: 1 })
    try {
      for (let i = 0; i < 1000; i++) expect(await fetchText(`http://127.0.0.1:${port}/${i}`, { agent })).toBe('ok')
      await flush()
    } finally {
      agent.destroy()
      process.off('warning', onWarning)
    }
    expect(new Set(outcomes).size).toBe(1000)
    expect(new Set((await Promise.all(outcomes)).map((outcome) => outcome.kind))).toEqual(new Set(['completed']))
    expect(counts).toHaveLength(1000)
    expect(counts.filter(({ socket: s, request: r, response: p }) => s > 0 || r > 0 || p > 0)).toEqual([])
    expect(socket!.listenerCount('close')).toBeLessThan(5)
    expect(warnings.filter((warning) => warning.name === 'MaxListenersExceededWarning')).toEqual([])
  })

  it('replays a disconnect that happened before it started watching', async () => {
    const result = deferred<{ reports: number; outcome: Promise<Outcome> }>()
    handle = async (req, res) => {
      await once(res, 'close') // the client is gone; nobody was watching
      const watched = watch(req, res)
      result.resolve({ reports: watched.state.reports, outcome: watched.outcome })
    }
    const socket = await connect()
    socket.write('GET / HTTP/1.1\r\nHost: test\r\n\r\n')
    await once(server, 'request')
    socket.destroy()
    const { reports, outcome } = await result.promise
    expect(reports).toBe(1) // reported synchronously, at the call
    expect((await outcome).kind).toBe('gone')
  })

  it('replays a completion that happened before it started watching', async () => {
    const result = deferred<Outcome>()
    handle = async (req, res) => {
      res.end('ok')
      await once(res, 'close')
      result.resolve(await watch(req, res).outcome)
    }
    expect(await fetchText(`http://127.0.0.1:${port}/`, { agent: false })).toBe('ok')
    expect(await result.promise).toEqual({ kind: 'completed' })
  })

  it('reports nothing and removes its listeners once disposed', async () => {
    const disposed = deferred<{ state: { reports: number }; counts: number[] }>()
    handle = (req, res) => {
      const before = [res.listenerCount('close'), req.listenerCount('close'), req.socket.listenerCount('close')]
      const { state } = watch(req, res)
      state.dispose()
      const after = [res.listenerCount('close'), req.listenerCount('close'), req.socket.listenerCount('close')]
      disposed.resolve({ state, counts: after.map((count, i) => count - before[i]!) })
    }
    const socket = await connect()
    socket.write('GET / HTTP/1.1\r\nHost: test\r\n\r\n')
    const { state, counts } = await disposed.promise
    expect(counts).toEqual([0, 0, 0])
    socket.destroy()
    await socket.closed
    await flush()
    expect(state.reports).toBe(0)
  })
})

describe('watchResponse over HTTP/2 (compatibility API)', () => {
  let h2: http2.Http2Server
  let client: http2.ClientHttp2Session
  let h2handle: (req: http2.Http2ServerRequest, res: http2.Http2ServerResponse) => void

  beforeEach(async () => {
    h2 = http2.createServer((req, res) => h2handle(req, res))
    client = http2.connect(`http://127.0.0.1:${await listenOnLoopback(h2)}`)
    client.on('error', () => {})
  })

  afterEach(async () => {
    client.destroy()
    await closeServer(h2)
  })

  it('reports a cancelled stream as gone, though Node reports it "finished"', async () => {
    const watched = deferred<ReturnType<typeof watch>>()
    h2handle = (req, res) => watched.resolve(watch(req, res))
    const stream = client.request({ ':path': '/slow', ':method': 'POST' })
    stream.end('body')
    const { outcome } = await watched.promise
    stream.close(http2.constants.NGHTTP2_CANCEL)
    const result = await outcome
    expect(result.kind).toBe('gone')
  })

  it('reports a normal response as completed', async () => {
    const watched = deferred<ReturnType<typeof watch>>()
    h2handle = async (req, res) => {
      watched.resolve(watch(req, res))
      await readBody(req)
      res.end('ok')
    }
    const stream = client.request({ ':path': '/', ':method': 'POST' })
    stream.end('{"a":1}')
    stream.resume()
    await once(stream, 'close')
    expect(await (await watched.promise).outcome).toEqual({ kind: 'completed' })
  })
})

/** A minimal http client: the response body as text. */
async function fetchText(
  url: string,
  { method = 'GET', agent, body }: { method?: string; agent?: http.Agent | false; body?: string },
): Promise<string> {
  const request = http.request(url, { method, agent })
  request.end(body)
  const [response] = (await once(request, 'response')) as [http.IncomingMessage]
  let text = ''
  for await (const chunk of response) text += chunk
  return text
}
