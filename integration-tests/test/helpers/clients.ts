// Clients and synchronisation helpers shared by the integration tests.
//
// Everything here is event driven: deferreds resolved by the server-side handlers or by the test,
// `waitForAbort` on AbortSignals, and real sockets that the test destroys itself. No sleeps.
//
// Every socket, agent, HTTP/2 session, server and still-pending deferred made through these helpers
// is registered with `track()`; `cleanup()` (run it in `afterEach`) tears them all down in a safe
// order: client side first (so no server waits on a client), then pending deferreds are resolved
// (so no handler or background task stays blocked), then servers/apps.
import http from 'node:http'
import http2 from 'node:http2'
import net from 'node:net'


// ---------------------------------------------------------------------------------------------
// resource tracking

type Phase = 'client' | 'deferred' | 'server'
const resources = new Map<Phase, Set<() => unknown>>([
  ['client', new Set()],
  ['deferred', new Set()],
  ['server', new Set()],
])

/** Registers a teardown for `cleanup()`. Returns a function that unregisters it. */
export function track(phase: Phase, dispose: () => unknown): () => void {
  const set = resources.get(phase)!
  set.add(dispose)
  return () => set.delete(dispose)
}

/** Tears down everything registered with `track()`: clients, then deferreds, then servers. */
export async function cleanup(): Promise<void> {
  const errors: unknown[] = []
  for (const phase of ['client', 'deferred', 'server'] as const) {
    const set = resources.get(phase)!
    const disposers = [...set]
    set.clear()
    const results = await Promise.allSettled(disposers.map(async (dispose) => dispose()))
    for (const result of results) if (result.status === 'rejected') errors.push(result.reason)
  }
  if (errors.length > 0) throw new AggregateError(errors, 'cleanup failed')
}

// ---------------------------------------------------------------------------------------------
// deferreds

export interface Deferred<T> {
  promise: Promise<T>
  resolve(value: T): void
  reject(error: unknown): void
  readonly settled: boolean
}

/**
 * A promise with its resolve/reject exposed. A deferred that is still pending at `cleanup()` is
 * resolved with `undefined`, so nothing a test forgot to release keeps a handler (or a server's
 * close) waiting.
 */
export function deferred<T = void>(): Deferred<T> {
  let resolve!: (value: T) => void
  let reject!: (error: unknown) => void
  let settled = false
  const promise = new Promise<T>((res, rej) => {
    resolve = res
    reject = rej
  })
  promise.catch(() => {}) // a rejected deferred nobody awaits is not an unhandled rejection
  const untrack = track('deferred', () => d.resolve(undefined as T))
  const d: Deferred<T> = {
    promise,
    resolve(value) {
      if (settled) return
      settled = true
      untrack()
      resolve(value)
    },
    reject(error) {
      if (settled) return
      settled = true
      untrack()
      reject(error)
    },
    get settled() {
      return settled
    },
  }
  return d
}

/** Resolves with `signal.reason` once the signal aborts (at once if it already did). */
export function waitForAbort(signal: AbortSignal): Promise<unknown> {
  if (signal.aborted) return Promise.resolve(signal.reason)
  return new Promise((resolve) => {
    signal.addEventListener('abort', () => resolve(signal.reason), { once: true })
  })
}

/**
 * Work for `taskGroup.createTask()`: runs until its signal aborts, then rejects with the reason.
 * `seen` (optional) receives the reason the task itself saw.
 */
export function untilAborted(seen?: Deferred<unknown>) {
  return (signal: AbortSignal): Promise<never> =>
    new Promise<never>((_, reject) => {
      const onAbort = () => {
        seen?.resolve(signal.reason)
        reject(signal.reason)
      }
      if (signal.aborted) onAbort()
      else signal.addEventListener('abort', onAbort, { once: true })
    })
}

/** The `code` of an abort reason (our errors all carry one). */
export function codeOf(reason: unknown): unknown {
  return (reason as { code?: unknown } | null | undefined)?.code
}

// ---------------------------------------------------------------------------------------------
// raw HTTP/1.1 over net

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

/** A connected TCP socket to 127.0.0.1:port, destroyed by `cleanup()`. */
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
  socket.on('error', () => {}) // ECONNRESET after our own destroy() is expected
  const closed = new Promise<void>((resolve) => socket.once('close', () => resolve()))
  await new Promise<void>((resolve, reject) => {
    socket.once('connect', resolve)
    socket.once('error', reject)
  })
  const until = (predicate: (received: string) => boolean) =>
    new Promise<string>((resolve, reject) => {
      const check = () => {
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

// ---------------------------------------------------------------------------------------------
// node:http client

export interface HttpResponse {
  status: number
  headers: http.IncomingHttpHeaders
  body: string
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

/** One request with `http.request`. Destroy `req` to simulate the client going away. */
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
      const localPort = res.socket?.localPort
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

/** A keep-alive agent with one socket, so sequential requests share one connection. */
export function keepAliveAgent(): http.Agent {
  const agent = new http.Agent({ keepAlive: true, maxSockets: 1 })
  track('client', () => agent.destroy())
  return agent
}

/** Number of sockets an agent still holds (busy or idle). */
export function agentSocketCount(agent: http.Agent): number {
  const count = (pool: NodeJS.ReadOnlyDict<unknown[]>) =>
    Object.values(pool).reduce((n, list) => n + (list?.length ?? 0), 0)
  return count(agent.sockets) + count(agent.freeSockets)
}

// ---------------------------------------------------------------------------------------------
// node:http2 client

/** An HTTP/2 (h2c) session, closed by `cleanup()`. */
export async function h2connect(url: string): Promise<http2.ClientHttp2Session> {
  const session = http2.connect(url)
  track('client', () => session.destroy())
  session.on('error', () => {})
  await new Promise<void>((resolve, reject) => {
    session.once('connect', () => resolve())
    session.once('error', reject)
  })
  return session
}

export interface H2Call {
  stream: http2.ClientHttp2Stream
  response: Promise<{ status: number; headers: http2.IncomingHttpHeaders; body: string }>
}

export function h2request(session: http2.ClientHttp2Session, { method = 'GET', path, body }: RawRequest): H2Call {
  const headers: http2.OutgoingHttpHeaders = { ':method': method, ':path': path }
  let payload: string | undefined
  if (body !== undefined) {
    payload = typeof body === 'string' ? body : JSON.stringify(body)
    headers['content-type'] = 'application/json'
    headers['content-length'] = Buffer.byteLength(payload)
  }
  const stream = session.request(headers, { endStream: payload === undefined })
  const response = new Promise<{ status: number; headers: http2.IncomingHttpHeaders; body: string }>(
    (resolve, reject) => {
      let status = 0
      let responseHeaders: http2.IncomingHttpHeaders = {}
      let text = ''
      stream.once('response', (h) => {
        responseHeaders = h
        status = Number(h[':status'])
      })
      stream.setEncoding('utf8')
      stream.on('data', (chunk: string) => {
        text += chunk
      })
      stream.once('end', () => resolve({ status, headers: responseHeaders, body: text }))
      stream.once('error', reject)
      stream.once('close', () => {
        if (stream.rstCode !== http2.constants.NGHTTP2_NO_ERROR) reject(new Error(`stream reset ${stream.rstCode}`))
      })
    },
  )
  response.catch(() => {})
  if (payload !== undefined) stream.end(payload)
  return { stream, response }
}

// ---------------------------------------------------------------------------------------------
// process warnings

/**
 * Collects every process warning (MaxListenersExceededWarning above all) from now until
 * `cleanup()`. Warnings are emitted on a later tick: call `flush()` before reading `warnings`.
 */
export function collectWarnings(): { warnings: Error[]; flush(): Promise<void> } {
  const warnings: Error[] = []
  const onWarning = (warning: Error) => {
    warnings.push(warning)
  }
  process.on('warning', onWarning)
  track('client', () => process.off('warning', onWarning))
  return {
    warnings,
    // process.emitWarning() emits on process.nextTick; a macrotask turn is past every pending one.
    flush: () => new Promise<void>((resolve) => setImmediate(resolve)),
  }
}
