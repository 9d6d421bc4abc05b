// createRuntime against real node:http servers and real client sockets.
import { once } from 'node:events'
import http from 'node:http'
import net from 'node:net'
import { setTimeout as sleep } from 'node:timers/promises'
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest'
import {
  BackgroundTasks,
  cancellationStatus,
  CancelledError,
  ClientDisconnectedError,
  ClosedError,
  createRuntime,
  RequestFinishedError,
  type Runtime,
  ShutdownError,
  TaskGroup,
  TaskGroupError,
  Threadpool,
  getThreadpool,
  runInThreadpool,
  TimeoutError,
} from '@taskscope/core'
import { closeServer, connect as connectTo, deferred, flush, memoryLogger, untilAborted } from '../helpers.ts'

let server: http.Server
let port: number
let handle: (req: http.IncomingMessage, res: http.ServerResponse) => void
let runtime: Runtime
let log: ReturnType<typeof memoryLogger>

beforeEach(async () => {
  log = memoryLogger()
  runtime = createRuntime({ logger: log.logger })
  server = http.createServer((req, res) => handle(req, res))
  server.listen(0)
  await once(server, 'listening')
  port = (server.address() as net.AddressInfo).port
})

afterEach(async () => {
  await closeServer(server)
  await runtime.close({ timeout: 0 })
})

const connect = (): Promise<net.Socket> => connectTo(port, { resume: false })

/** Sends a request over a raw socket; resolves with the raw response text once the server closes it. */
async function rawResponse(socket: net.Socket): Promise<string> {
  let text = ''
  socket.setEncoding('utf8')
  socket.on('data', (chunk: string) => (text += chunk))
  await once(socket, 'close')
  return text
}

async function get(path: string, agent: http.Agent | false = false) {
  const request = http.get(`http://127.0.0.1:${port}${path}`, { agent })
  const [response] = (await once(request, 'response')) as [http.IncomingMessage]
  let body = ''
  for await (const chunk of response) body += chunk
  return { status: response.statusCode!, headers: response.headers, body, socket: request.socket! }
}

describe('createRuntime options', () => {
  it('validates every option up front, naming it and showing the value', () => {
    const cases: Array<[unknown, string, RegExp]> = [
      ['nope', 'ERR_INVALID_ARG_TYPE', /runtime options must be an object/],
      [{ shutdownTimeout: '5s' }, 'ERR_INVALID_ARG_TYPE', /"shutdownTimeout" option must be a number of milliseconds\. Received '5s' \(string\)/],
      [{ shutdownTimeout: -1 }, 'ERR_OUT_OF_RANGE', /"shutdownTimeout" option .* Received -1 \(number\)/],
      [{ logger: {} }, 'ERR_INVALID_ARG_TYPE', /"logger" option must be a logger with info, warn and error methods/],
      [{ logger: { info() {}, warn() {}, error() {}, debug: 1 } }, 'ERR_INVALID_ARG_TYPE', /"logger" option/],
      [{ threadpool: 42 }, 'ERR_INVALID_ARG_TYPE', /"threadpool" option must be an object\. Received 42 \(number\)/],
      [{ threadpool: { maxThreads: 0 } }, 'ERR_OUT_OF_RANGE', /"maxThreads" option .* Received 0 \(number\)/],
      [{ backgroundTasks: 42 }, 'ERR_INVALID_ARG_TYPE', /"backgroundTasks" option must be an object\. Received 42/],
      [{ backgroundTasks: { onError: 'log' } }, 'ERR_INVALID_ARG_TYPE', /"onError" option must be a function/],
    ]
    for (const [options, code, message] of cases) {
      let error: any
      try {
        createRuntime(options as never)
      } catch (caught) {
        error = caught
      }
      expect(error, JSON.stringify(options)).toBeDefined()
      expect(error.code, String(error.message)).toBe(code)
      expect(error.message).toMatch(message)
    }
  })

  it('never modifies the caller options, and accepts Infinity for shutdownTimeout', async () => {
    const options = Object.freeze({ shutdownTimeout: Infinity, threadpool: Object.freeze({ maxThreads: 2 }), backgroundTasks: Object.freeze({}) })
    const other = createRuntime(options)
    expect(other.shutdownTimeout).toBe(Infinity)
    expect(options).toEqual({ shutdownTimeout: Infinity, threadpool: { maxThreads: 2 }, backgroundTasks: {} })
    await other.close()
  })

  it('defaults: a 5 s shutdown timeout, a pool that only starts on first use, its own background registry', async () => {
    const other = createRuntime()
    expect(other.shutdownTimeout).toBe(5000)
    expect(other.stats()).toMatchObject({ requests: { active: 0 }, background: { active: 0 }, pool: { threads: 0, completed: 0 }, draining: false })
    expect(other.backgroundTasks).toBeInstanceOf(BackgroundTasks)
    expect((await other.close()).pool).toBe('not-started')
  })

  it('uses a BackgroundTasks or a Threadpool it is given, and leaves the pool open', async () => {
    const backgroundTasks = new BackgroundTasks()
    const threadpool = new Threadpool({ maxThreads: 1 })
    try {
      const other = createRuntime({ backgroundTasks, threadpool })
      expect(other.backgroundTasks).toBe(backgroundTasks)
      expect(other.threadpool).toBe(threadpool)
      expect(await threadpool.run((a: number) => a, [1])).toBe(1)
      expect(other.stats().pool).toMatchObject({ completed: 1 })
      const summary = await other.close()
      expect(summary.pool).toBe('external')
      expect(backgroundTasks.closed).toBe(true)
      expect(await threadpool.run((a: number, b: number) => a + b, [1, 2])).toBe(3)
    } finally {
      await threadpool.close()
    }
  })

  it('logs background failures at error by default, with the task', async () => {
    const failed = log.next('error')
    const boom = new Error('boom')
    runtime.backgroundTasks.add(async () => {
      throw boom
    }, { name: 'reindex' })
    const entry = await failed
    expect(entry.fields).toMatchObject({ err: boom, task: { name: 'reindex' } })
  })

  it('installs no process signal handlers', async () => {
    const before = ['SIGTERM', 'SIGINT'].map((signal) => process.listenerCount(signal))
    const other = createRuntime()
    await other.close()
    expect(['SIGTERM', 'SIGINT'].map((signal) => process.listenerCount(signal))).toEqual(before)
  })
})

describe('runtime.requestGroup', () => {
  it('costs nothing until used, then returns the same group for the request', async () => {
    const seen = deferred<TaskGroup[]>()
    handle = (req, res) => {
      expect(runtime.stats().requests.active).toBe(0)
      const groups = [runtime.requestGroup(req, res), runtime.requestGroup(req, res)]
      expect(runtime.stats().requests.active).toBe(1)
      seen.resolve(groups)
      res.end('ok')
    }
    await get('/')
    const [a, b] = await seen.promise
    expect(a).toBeInstanceOf(TaskGroup)
    expect(a).toBe(b)
    await vi.waitFor(() => expect(runtime.stats().requests.active).toBe(0))
  })

  it('cancels the group with ClientDisconnectedError when the client goes away, logged at info', async () => {
    const started = deferred<TaskGroup>()
    handle = (req, res) => {
      const group = runtime.requestGroup(req, res)
      group.createTask(untilAborted)
      started.resolve(group)
    }
    const socket = await connect()
    socket.write('POST / HTTP/1.1\r\nHost: t\r\nContent-Length: 2\r\n\r\n{}')
    const group = await started.promise
    const info = log.next('info')
    socket.destroy()
    await once(group.signal, 'abort')
    expect(group.signal.reason).toBeInstanceOf(ClientDisconnectedError)
    expect((await info).fields).toMatchObject({ code: 'ERR_CLIENT_CLOSED_REQUEST', tasks: 1 })
    await vi.waitFor(() => expect(runtime.stats().requests.active).toBe(0))
    expect(log.entries.filter((entry) => entry.level === 'error' || entry.level === 'warn')).toEqual([])
  })

  it('replays a disconnect when the group is created after the client left', async () => {
    const created = deferred<TaskGroup>()
    handle = async (req, res) => {
      await once(res, 'close')
      created.resolve(runtime.requestGroup(req, res))
    }
    const socket = await connect()
    socket.write('GET / HTTP/1.1\r\nHost: t\r\n\r\n')
    await once(server, 'request')
    socket.destroy()
    const group = await created.promise
    expect(group.cancelled).toBe(true)
    expect(group.signal.reason).toBeInstanceOf(ClientDisconnectedError)
  })

  it('never reports a completed response as a disconnect: the signal ends with RequestFinishedError', async () => {
    const done = deferred<TaskGroup>()
    handle = async (req, res) => {
      const group = runtime.requestGroup(req, res)
      for await (const _ of req); // a POST body, read in full
      const value = await group.createTask(async () => 'value')
      res.end(value)
      done.resolve(group)
    }
    const request = http.request(`http://127.0.0.1:${port}/`, { method: 'POST', agent: false })
    request.end('{"a":1}')
    const [response] = (await once(request, 'response')) as [http.IncomingMessage]
    response.resume()
    const group = await done.promise
    if (!group.cancelled) await once(group.signal, 'abort')
    expect(group.signal.reason).toBeInstanceOf(RequestFinishedError)
    expect(log.entries.filter((entry) => entry.fields.code === 'ERR_CLIENT_CLOSED_REQUEST')).toEqual([])
  })

  it('cancels tasks still running when the response completes with RequestFinishedError, logged at warn', async () => {
    const straggler = deferred<unknown>()
    handle = (req, res) => {
      const group = runtime.requestGroup(req, res)
      group.createTask(untilAborted).then(undefined, straggler.resolve)
      res.end('early')
    }
    const warned = log.next('warn')
    expect((await get('/')).body).toBe('early')
    const reason = await straggler.promise
    expect(reason).toBeInstanceOf(RequestFinishedError)
    expect((await warned).fields).toMatchObject({ tasks: 1 })
  })

  it('logs failures nobody observed at error through the request logger', async () => {
    const requestLog = memoryLogger()
    const boom = new Error('boom')
    handle = (req, res) => {
      const group = runtime.requestGroup(req, res, { logger: requestLog.logger })
      group.createTask(async () => {
        throw boom
      })
      res.end('ok')
    }
    const failed = requestLog.next('error')
    await get('/')
    const entry = await failed
    expect(entry.fields.err).toBeInstanceOf(TaskGroupError)
    expect((entry.fields.err as TaskGroupError).errors).toEqual([boom])
    expect(log.entries.filter((e) => e.level === 'error')).toEqual([])
  })

  it('hands unobserved failures to onError instead, when given', async () => {
    const seen = deferred<unknown>()
    handle = (req, res) => {
      runtime.requestGroup(req, res, { onError: seen.resolve }).createTask(() => Promise.reject(new Error('x')))
      res.end()
    }
    await get('/')
    expect(await seen.promise).toBeInstanceOf(TaskGroupError)
  })
})

describe('runtime.close', () => {
  it('is idempotent, refuses background tasks at once, and logs a summary at info', async () => {
    const info = log.next('info')
    const closing = runtime.close()
    expect(runtime.close()).toBe(closing)
    expect(runtime.draining).toBe(true)
    expect(runtime.stats().draining).toBe(true)
    expect(() => runtime.backgroundTasks.add(async () => {})).toThrow(ClosedError)
    const summary = await closing
    expect(summary).toMatchObject({
      requests: { inFlight: 0, cancelled: 0, abandoned: 0 },
      background: { completed: 0, failed: 0, cancelled: 0, abandoned: 0 },
      pool: 'not-started',
    })
    expect((await info).fields).toEqual(summary)
  })

  it('rejects an invalid timeout', async () => {
    await expect(runtime.close({ timeout: -5 })).rejects.toMatchObject({ code: 'ERR_OUT_OF_RANGE' })
    expect(runtime.draining).toBe(false)
  })

  it('waits for in-flight requests and background tasks that finish in time', async () => {
    const gate = deferred<void>()
    const started = deferred<void>()
    handle = async (req, res) => {
      const group = runtime.requestGroup(req, res)
      started.resolve()
      res.end(await group.createTask(gate.promise.then(() => 'finished')))
    }
    const job = runtime.backgroundTasks.add(() => gate.promise.then(() => 'done'))
    const response = get('/')
    await started.promise
    const closing = runtime.close({ timeout: Infinity })
    await flush()
    expect(runtime.stats().requests.active).toBe(1)
    gate.resolve()
    expect((await response).body).toBe('finished')
    const summary = await closing
    expect(summary.requests).toEqual({ inFlight: 1, cancelled: 0, abandoned: 0 })
    expect(summary.background).toEqual({ completed: 1, failed: 0, cancelled: 0, abandoned: 0 })
    expect(await job).toBe('done')
  })

  it('cancels leftovers with ShutdownError at the deadline, and logs the summary at warn', async () => {
    const started = deferred<void>()
    handle = async (req, res) => {
      const group = runtime.requestGroup(req, res)
      started.resolve()
      try {
        await group.createTask(untilAborted)
      } catch (error) {
        res.statusCode = cancellationStatus(error) ?? 500
        res.end((error as Error).name)
      }
    }
    const job = runtime.backgroundTasks.add(untilAborted, { name: 'forever' })
    const response = get('/')
    await started.promise
    const summary = await runtime.close({ timeout: 0 })
    expect(summary.requests).toEqual({ inFlight: 1, cancelled: 1, abandoned: 0 })
    expect(summary.background).toEqual({ completed: 0, failed: 0, cancelled: 1, abandoned: 0 })
    expect(job.signal.reason).toBeInstanceOf(ShutdownError)
    expect(await response).toMatchObject({ status: 503, body: 'ShutdownError' })
    expect(log.entries.at(-1)).toMatchObject({ level: 'warn', fields: summary })
  })

  it('creates request groups already cancelled once the deadline has passed', async () => {
    await runtime.close({ timeout: 0 })
    const created = deferred<TaskGroup>()
    handle = (req, res) => {
      created.resolve(runtime.requestGroup(req, res))
      res.end()
    }
    await get('/')
    const group = await created.promise
    expect(group.signal.reason).toBeInstanceOf(ShutdownError)
  })

  it('uses the process-wide shared pool by default (the one runInThreadpool uses), and closes it', async () => {
    const pool = runtime.threadpool
    expect(pool).toBe(getThreadpool())
    expect(await runInThreadpool((n: number) => n + 1, 1)).toBe(2)
    expect(pool.stats().completed).toBe(1)
    await runtime.close()
    expect(pool.closed).toBe(true)
    expect(runtime.threadpool).toBe(pool)
    expect(getThreadpool()).not.toBe(pool) // the next user gets a fresh shared pool
    await getThreadpool().close()
  })

  it('counts and drains the shared pool when only runInThreadpool used it', async () => {
    expect(await runInThreadpool((n: number) => n * 3, 3)).toBe(9)
    const shared = getThreadpool()
    expect(runtime.stats().pool).toMatchObject({ completed: shared.stats().completed })
    expect(runtime.stats().pool.completed).toBeGreaterThanOrEqual(1)
    expect((await runtime.close()).pool).toBe('closed')
    expect(shared.closed).toBe(true)
  })

  it('closes a pool it started; later reads return a closed pool', async () => {
    const pool = runtime.threadpool
    expect(runtime.threadpool).toBe(pool)
    expect(await pool.run((n: number) => n * 2, [21])).toBe(42)
    expect(runtime.stats().pool).toMatchObject({ completed: pool.stats().completed, running: 0 })
    expect((await runtime.close()).pool).toBe('closed')
    await expect(pool.run((n: number) => n, [1])).rejects.toBeInstanceOf(ClosedError)
  })
})

describe('runtime.attach (server drain)', () => {
  it('closes idle keep-alive connections, lets a slow request finish with Connection: close, then resolves', async () => {
    const gate = deferred<void>()
    const slowStarted = deferred<void>()
    handle = async (req, res) => {
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
      const connections = await new Promise((resolve) => server.getConnections((_, count) => resolve(count)))
      expect(connections).toBe(0)
    } finally {
      agent.destroy()
    }
  })

  it('answers a request that arrives on an open connection while draining with 503 + Connection: close', async () => {
    const reached: string[] = []
    const gate = deferred<void>()
    const started = deferred<void>()
    handle = async (req, res) => {
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
    const arrived = once(server, 'request')
    socket.write('GET /late HTTP/1.1\r\nHost: t\r\n\r\n') // same keep-alive connection, after the drain began
    await arrived
    gate.resolve()
    const text = await response
    const [first, late] = text.split(/(?=HTTP\/1\.1 )/)
    expect(first).toMatch(/^HTTP\/1\.1 200 /)
    expect(late).toMatch(/^HTTP\/1\.1 503 /)
    expect(late).toMatch(/\r\nconnection: close\r\n/i)
    expect(late).toMatch(/\r\nretry-after: 1\r\n/i)
    expect(reached).toEqual(['/first']) // the late request never reached the app
    await closing
  })

  it('at the deadline cancels groups with ShutdownError and closes connections that are still open', async () => {
    const started = deferred<TaskGroup>()
    handle = (req, res) => {
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

  it('rejects what is not a node:http server', () => {
    expect(() => runtime.attach({} as never)).toThrow(/The "server" argument must be a node:http or node:https Server/)
  })
})

describe('cancellationStatus', () => {
  it('maps cancellations to their status, 499 by default, and other errors to undefined', async () => {
    const abortError = await sleep(10_000, undefined, { signal: AbortSignal.abort(new ShutdownError()) }).catch((error) => error)
    const plainAbort = await sleep(10_000, undefined, { signal: AbortSignal.abort() }).catch((error) => error)
    expect(abortError.code).toBe('ABORT_ERR')
    expect(cancellationStatus(new ClientDisconnectedError())).toBe(499)
    expect(cancellationStatus(new CancelledError())).toBe(499)
    expect(cancellationStatus(new ShutdownError())).toBe(503)
    expect(cancellationStatus(new TimeoutError())).toBe(504)
    expect(cancellationStatus(abortError)).toBe(503) // Node's AbortError: its cause's status
    expect(cancellationStatus(plainAbort)).toBe(499)
    expect(cancellationStatus(new DOMException('late', 'TimeoutError'))).toBe(504)
    expect(cancellationStatus(new Error('boom'))).toBeUndefined()
    expect(cancellationStatus(undefined)).toBeUndefined()
  })
})
