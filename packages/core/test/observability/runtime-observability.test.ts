// The runtime's side of observability, over real sockets: requests on `taskscope:task`, disconnects
// on `taskscope:request.disconnect`, the close summary on `taskscope:shutdown`, the totals of
// `runtime.stats()` and the live tree of `runtime.inspect()`.
import http from 'node:http'
import { fileURLToPath } from 'node:url'
import {
  type BackgroundRegistry,
  type BackgroundSnapshot,
  CancelledError,
  ClientDisconnectedError,
  createRuntime,
  type Runtime,
  type TaskGroup,
} from '@taskscope/core'
import {
  closeServer,
  collectUnhandled,
  deferred,
  httpRequest,
  listenOnLoopback,
  memoryLogger,
  rawConnect,
  runNode,
  untilAborted,
} from '@taskscope/test-support'
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest'
import { recordChannel, recordTracing } from './recorder.js'

let server: http.Server
let port: number
let handle: (req: http.IncomingMessage, res: http.ServerResponse) => void
let runtime: Runtime
const stops: Array<() => void> = []

beforeEach(async () => {
  runtime = createRuntime({ logger: memoryLogger().logger })
  server = http.createServer((req, res) => handle(req, res))
  port = await listenOnLoopback(server)
})

afterEach(async () => {
  for (const stop of stops.splice(0)) stop()
  await closeServer(server)
  await runtime.close({ timeout: 0 })
})

const get = (path: string) => httpRequest(port, { path }).response

/** A request whose handler is still running; destroying the socket is the client going away. */
async function inFlight(path: string) {
  const socket = await rawConnect(port)
  socket.write(`GET ${path} HTTP/1.1\r\nHost: t\r\n\r\n`)
  return socket
}

function tracing(name: string) {
  const recorder = recordTracing(name)
  stops.push(recorder.stop)
  return recorder.records
}
function points(name: string) {
  const recorder = recordChannel(name)
  stops.push(recorder.stop)
  return recorder.messages
}

/** The dashboard shape: three tasks, then the answer. */
function dashboard(req: http.IncomingMessage, res: http.ServerResponse): void {
  const group = runtime.requestGroup(req, res)
  const tasks = ['user', 'orders', 'recommendations'].map((name) => group.createTask(async () => name, { name }))
  Promise.all(tasks).then((values) => res.end(values.join(',')))
}

describe('requests on taskscope:task', () => {
  it("a request is kind request from its group's creation until it closed; its tasks name that group", async () => {
    const records = tracing('taskscope:task')
    handle = dashboard
    expect((await get('/dashboard?id=1')).body).toBe('user,orders,recommendations')
    await vi.waitFor(() => expect(records.filter((r) => r.context.kind === 'request').map((r) => r.event)).toContain('asyncEnd'))
    const request = records.find((r) => r.context.kind === 'request')!.context
    expect(request).toMatchObject({ kind: 'request', method: 'GET', url: '/dashboard?id=1', task: undefined })
    const tasks = records.filter((r) => r.context.kind === 'task' && r.event === 'start').map((r) => r.context)
    expect(tasks.map((t) => [t.task.name, t.group === request.group])).toEqual([
      ['user', true],
      ['orders', true],
      ['recommendations', true],
    ])
    const sequence = records
      .filter((r) => r.event === 'start' || r.event === 'asyncEnd')
      .map((r) => `${r.event} ${r.context.task?.name ?? r.context.kind}`)
    expect(sequence[0]).toBe('start request')
    expect(sequence.at(-1)).toBe('asyncEnd request')
    expect(request).not.toHaveProperty('cancelled')
    expect(records.filter((r) => r.event === 'error')).toEqual([])
  })

  it('a disconnect: taskscope:request.disconnect, then the tasks and the request end cancelled, never errored', async () => {
    const records = tracing('taskscope:task')
    const disconnects = points('taskscope:request.disconnect')
    const started = deferred<TaskGroup>()
    handle = (req, res) => {
      const group = runtime.requestGroup(req, res)
      group.createTask((signal) => untilAborted(signal), { name: 'slow' })
      started.resolve(group)
    }
    const socket = await inFlight('/slow')
    const group = await started.promise
    socket.destroy()
    await vi.waitFor(() => expect(records.filter((r) => r.context.kind === 'request').map((r) => r.event)).toContain('asyncEnd'))
    expect(disconnects).toHaveLength(1)
    expect(disconnects[0]).toMatchObject({ group, reason: expect.any(ClientDisconnectedError), tasks: 1 })
    expect(disconnects[0].request.url).toBe('/slow')
    const ends = records.filter((r) => r.event === 'asyncEnd').map((r) => [r.context.task?.name ?? r.context.kind, r.snapshot.cancelled])
    expect(ends).toEqual([
      ['slow', true],
      ['request', true],
    ])
    expect(records.find((r) => r.context.kind === 'request' && r.event === 'asyncEnd')!.snapshot.reason).toBeInstanceOf(
      ClientDisconnectedError,
    )
    expect(records.filter((r) => r.event === 'error')).toEqual([])
  })

  it('a completed response publishes no disconnect', async () => {
    const disconnects = points('taskscope:request.disconnect')
    handle = dashboard
    await get('/')
    await vi.waitFor(() => expect(runtime.stats().requests.served).toBe(1))
    expect(disconnects).toEqual([])
  })
})

describe('taskscope:shutdown', () => {
  it('publishes the close summary, with the runtime', async () => {
    const messages = points('taskscope:shutdown')
    const summary = await runtime.close()
    expect(messages).toEqual([{ ...summary, runtime }])
  })
})

describe('runtime.stats() totals', () => {
  it('counts requests served, cancelled by disconnect and by timeout, and stragglers cancelled at completion', async () => {
    const started = deferred()
    handle = (req, res) => {
      if (req.url === '/gone') {
        runtime.requestGroup(req, res).createTask((signal) => untilAborted(signal))
        started.resolve()
      } else if (req.url === '/timeout') {
        const group = runtime.requestGroup(req, res, { timeout: 1 })
        group.createTask((signal) => untilAborted(signal)).then(undefined, () => res.writeHead(504).end())
      } else if (req.url === '/stragglers') {
        const group = runtime.requestGroup(req, res)
        group.createTask((signal) => untilAborted(signal))
        group.createTask((signal) => untilAborted(signal))
        res.end('early')
      } else dashboard(req, res)
    }
    expect(runtime.stats().requests).toEqual({
      active: 0,
      served: 0,
      cancelledByDisconnect: 0,
      cancelledByTimeout: 0,
      stragglersCancelled: 0,
    })
    await get('/')
    await get('/')
    expect((await get('/timeout')).status).toBe(504)
    await get('/stragglers')
    const socket = await inFlight('/gone')
    await started.promise
    socket.destroy()
    await vi.waitFor(() => expect(runtime.stats().requests.active).toBe(0))
    expect(runtime.stats().requests).toEqual({
      active: 0,
      served: 4,
      cancelledByDisconnect: 1,
      cancelledByTimeout: 1,
      stragglersCancelled: 2,
    })
  })

  it('counts background tasks by outcome, and pool calls by outcome', async () => {
    const tasks = runtime.backgroundTasks
    await tasks.add(async () => 'done')
    const failing = tasks.add(async () => {
      throw new Error('x')
    })
    await expect(failing).rejects.toThrow('x')
    const loop = tasks.add((signal) => untilAborted(signal))
    loop.cancel()
    await expect(loop).rejects.toBeInstanceOf(CancelledError)
    const pool = createRuntime({ threadpool: { maxThreads: 1 } })
    try {
      expect(await pool.threadpool.run((a: number) => a, [1])).toBe(1)
      await expect(
        pool.threadpool.run(() => {
          throw new Error('y')
        }, []),
      ).rejects.toThrow('y')
      expect(pool.stats().pool).toMatchObject({ completed: 1, failed: 1, cancelled: 0 })
    } finally {
      await pool.close()
    }
    expect(runtime.stats().background).toEqual({ active: 0, fulfilled: 1, rejected: 1, cancelled: 1, store: 'available' })
  })

  it('reports event-loop delay (ms) and utilisation; the monitor never keeps the process alive', async () => {
    const { eventLoop } = runtime.stats()
    for (const value of [eventLoop.delay.p50, eventLoop.delay.p99, eventLoop.delay.max]) expect(value).toBeGreaterThanOrEqual(0)
    expect(eventLoop.delay.p99).toBeGreaterThanOrEqual(eventLoop.delay.p50)
    expect(eventLoop.utilization).toBeGreaterThanOrEqual(0)
    expect(eventLoop.utilization).toBeLessThanOrEqual(1)
    const child = runNode(fileURLToPath(new URL('./fixtures/stats-then-exit.mjs', import.meta.url)))
    await child.waitFor(/stats read: number/)
    expect(await child.exited).toBe(0)
  })
})

describe('runtime.inspect()', () => {
  it('shows each live request (method, url, age, its tasks) and each background task, as plain JSON', async () => {
    const ready = deferred()
    handle = (req, res) => {
      const group = runtime.requestGroup(req, res, { limit: 1 })
      group.createTask((signal) => untilAborted(signal), { name: 'first' })
      group.createTask(async () => 'later', { name: 'second' })
      ready.resolve()
    }
    const job = runtime.backgroundTasks.add((signal) => untilAborted(signal), { name: 'refresh' })
    const socket = await inFlight('/report?year=2025')
    await ready.promise
    const tree = runtime.inspect()
    expect(JSON.parse(JSON.stringify(tree))).toEqual(tree)
    expect(tree).toEqual({
      requests: [
        {
          method: 'GET',
          url: '/report?year=2025',
          ageMs: expect.any(Number),
          cancelled: false,
          tasks: [
            { name: 'first', status: 'running', ageMs: expect.any(Number) },
            { name: 'second', status: 'queued', ageMs: expect.any(Number) },
          ],
        },
      ],
      background: [{ id: job.id, name: 'refresh', status: 'running', ageMs: expect.any(Number) }],
      backgroundStore: 'available',
    })
    socket.destroy()
    job.cancel()
    await vi.waitFor(() => expect(runtime.inspect()).toEqual({ requests: [], background: [], backgroundStore: 'available' }))
  })
})

describe('stats() and inspect() with any registry (one that throws, answers nonsense, or whose store is away)', () => {
  const base = {
    active: 0,
    closed: false,
    add(): never {
      throw new Error('not here')
    },
    list: () => [],
    shutdown: async () => ({ completed: 0, failed: 0, cancelled: 0, abandoned: 0 }),
  }
  const registries: [string, BackgroundRegistry][] = [
    [
      'snapshot throws',
      {
        ...base,
        snapshot: () => {
          throw new Error('store down')
        },
      },
    ],
    ['snapshot answers nonsense', { ...base, snapshot: () => null as unknown as BackgroundSnapshot }],
    [
      'store unavailable',
      { ...base, snapshot: () => ({ running: [], outcomes: { fulfilled: 2, rejected: 0, cancelled: 0 }, store: 'unavailable' }) },
    ],
  ]
  it.each(registries)('%s: never throws, says unavailable, leaves no unhandled rejection', async (_label, registry) => {
    const runtime = createRuntime({ backgroundTasks: registry })
    const unhandled = await collectUnhandled(async () => {
      expect(runtime.stats().background).toMatchObject({ active: 0, store: 'unavailable' })
      expect(runtime.inspect()).toMatchObject({ background: [], backgroundStore: 'unavailable' })
    })
    expect(unhandled).toEqual([])
    await runtime.close()
  })
})
