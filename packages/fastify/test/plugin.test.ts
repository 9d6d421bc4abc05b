// @taskscope/fastify against real Fastify 5 instances: inject for the happy paths, real sockets
// for disconnects and shutdown.
import { once } from 'node:events'
import http from 'node:http'
import type net from 'node:net'
import { inspect } from 'node:util'
import { BackgroundTasks, CancelledError, ClosedError, ShutdownError, TaskGroup, TimeoutError } from '@taskscope/core'
import concurrencyPluginDefault, { concurrencyPlugin } from '@taskscope/fastify'
import { rawConnect as connect, deferred, memoryLogger, untilAborted } from '@taskscope/test-support'
import Fastify, { type FastifyInstance } from 'fastify'
import { afterEach, describe, expect, it } from 'vitest'

interface Line {
  level: number
  msg?: string
  reqId?: string
  err?: { type?: string; message?: string; code?: string }
  [key: string]: unknown
}

const apps: FastifyInstance[] = []
afterEach(async () => {
  await Promise.all(apps.splice(0).map((app) => app.close()))
})

/** A Fastify app whose JSON log lines are collected; `logged(match)` waits for a matching line. */
function createApp() {
  const lines: Line[] = []
  const waiters: Array<{ match: (line: Line) => boolean; resolve: (line: Line) => void }> = []
  const app = Fastify({
    logger: {
      level: 'debug',
      stream: {
        write(text: string) {
          const line = JSON.parse(text) as Line
          lines.push(line)
          for (const waiter of [...waiters]) {
            if (!waiter.match(line)) continue
            waiters.splice(waiters.indexOf(waiter), 1)
            waiter.resolve(line)
          }
        },
      },
    },
  })
  apps.push(app)
  const logged = (match: (line: Line) => boolean): Promise<Line> => {
    const found = lines.find(match)
    return found ? Promise.resolve(found) : new Promise((resolve) => waiters.push({ match, resolve }))
  }
  return { app, lines, logged }
}

async function listen(app: FastifyInstance): Promise<number> {
  await app.listen({ port: 0, host: '127.0.0.1' })
  return (app.server.address() as net.AddressInfo).port
}

describe('registration', () => {
  it('is a fastify-plugin named @taskscope/fastify, exported by name and as default', () => {
    expect(concurrencyPluginDefault).toBe(concurrencyPlugin)
    const meta = concurrencyPlugin as unknown as Record<symbol, unknown>
    expect(meta[Symbol.for('skip-override')]).toBe(true)
    expect(meta[Symbol.for('fastify.display-name')]).toBe('@taskscope/fastify')
    expect(meta[Symbol.for('plugin-meta')]).toMatchObject({ fastify: '5.x', name: '@taskscope/fastify' })
  })

  it('decorates the instance: concurrency, backgroundTasks, and a threadpool that starts on first use', async () => {
    const { app } = createApp()
    await app.register(concurrencyPlugin)
    await app.ready()
    expect(app.backgroundTasks).toBeInstanceOf(BackgroundTasks)
    expect(app.concurrency.backgroundTasks).toBe(app.backgroundTasks)
    expect(app.concurrency.logger).toBe(app.log) // the default logger
    expect(app.concurrency.stats().pool).toMatchObject({ threads: 0, completed: 0 }) // no thread started to report it
    const pool = app.threadpool
    expect(app.threadpool).toBe(pool)
    expect(await pool.run((a: number, b: number) => a * b, [6, 7])).toBe(42)
    expect(app.concurrency.stats().pool).toMatchObject({ completed: 1, running: 0 })
  })

  it("gives each request one lazy taskGroup, and leaves Fastify's own request.signal alone", async () => {
    const { app } = createApp()
    await app.register(concurrencyPlugin)
    let active = -1
    app.get('/', async (request) => {
      active = app.concurrency.stats().requests.active // not created yet: costs nothing
      const group = request.taskGroup
      const again = request.taskGroup
      return {
        group: group instanceof TaskGroup,
        same: group === again,
        active: app.concurrency.stats().requests.active,
        signal: request.signal instanceof AbortSignal && request.signal !== group.signal,
        value: await group.createTask(async () => 21 * 2),
      }
    })
    const response = await app.inject('/')
    expect(response.json()).toEqual({ group: true, same: true, active: 1, signal: true, value: 42 })
    expect(active).toBe(0)
  })

  it('validates options when it registers, naming the option', async () => {
    const cases: Array<[object, string, RegExp]> = [
      [{ shutdownTimeout: -1 }, 'ERR_OUT_OF_RANGE', /"shutdownTimeout" option .* Received -1/],
      [{ logger: { info: 1 } }, 'ERR_INVALID_ARG_TYPE', /"logger" option/],
      [{ threadpool: 'big' }, 'ERR_INVALID_ARG_TYPE', /"threadpool" option must be an object/],
      [{ backgroundTasks: { onError: 1 } }, 'ERR_INVALID_ARG_TYPE', /"onError" option must be a function/],
    ]
    for (const [options, code, message] of cases) {
      const { app } = createApp()
      const error = await app
        .register(concurrencyPlugin, options as never)
        .ready()
        .then(
          () => undefined,
          (caught: unknown) => caught as Error & { code: string },
        )
      expect(error?.code, JSON.stringify(options)).toBe(code)
      expect(error?.message).toMatch(message)
    }
  })

  it('refuses a second registration with a clear error', async () => {
    const { app } = createApp()
    await app.register(concurrencyPlugin)
    const error = await app
      .register(concurrencyPlugin)
      .ready()
      .then(
        () => undefined,
        (caught: unknown) => caught as Error & { code: string },
      )
    expect(error?.code).toBe('ERR_TASKSCOPE_ALREADY_REGISTERED')
    expect(error?.message).toMatch(/@taskscope\/fastify is already installed on this app with another runtime/)
  })
})

describe('escaped cancellations', () => {
  // The statuses themselves are checked on all three frameworks in integration-tests.
  it.each([
    ['a CancelledError', new CancelledError(), 499],
    ['a ShutdownError', new ShutdownError(), 503],
  ])(
    "%s is logged once, by taskscope, at info and without a stack (not again by Fastify's error handler)",
    async (_name, error, status) => {
      const { app, lines } = createApp()
      await app.register(concurrencyPlugin)
      app.get('/', async () => {
        throw error
      })
      expect((await app.inject('/')).statusCode).toBe(status)
      expect(lines.filter((line) => line.err !== undefined || line.msg === 'request cancelled')).toEqual([
        expect.objectContaining({ level: 30, msg: 'request cancelled', statusCode: status, reqId: expect.any(String) }),
      ])
      expect(lines.find((line) => line.msg === 'request completed')).toMatchObject({ level: 30, res: { statusCode: status } })
    },
  )

  it('leaves other errors alone: a 500 logged at error', async () => {
    const { app, lines } = createApp()
    await app.register(concurrencyPlugin)
    app.get('/', async () => {
      throw new Error('boom')
    })
    expect((await app.inject('/')).statusCode).toBe(500)
    expect(lines.find((line) => line.err !== undefined)?.level).toBe(50)
  })
})

describe('request lifecycle over real sockets', () => {
  it('logs one info line per client disconnect, with the request id and no stack', async () => {
    const { app, lines, logged } = createApp()
    await app.register(concurrencyPlugin)
    const started = deferred()
    app.post('/', async (request) => {
      const task = request.taskGroup.createTask(untilAborted)
      started.resolve()
      await task // rejects with ClientDisconnectedError, which escapes the handler
    })
    const port = await listen(app)
    const socket = await connect(port)
    const body = JSON.stringify({ hello: 'world' })
    socket.write(`POST / HTTP/1.1\r\nHost: t\r\nContent-Type: application/json\r\nContent-Length: ${body.length}\r\n\r\n${body}`)
    await started.promise
    const from = lines.length
    socket.destroy()
    // The escaped cancellation is logged (by taskscope at debug, or by Fastify's error handler) in one synchronous step.
    await logged((l) => l.msg === 'request cancelled: the client went away' || l.err !== undefined)
    await app.close()
    const after = lines.slice(from).filter((l) => l.level >= 30 && !String(l.msg).startsWith('shut down'))
    expect(after).toEqual([
      expect.objectContaining({ level: 30, msg: expect.stringMatching(/^client went away/), reqId: expect.any(String) }),
    ])
    expect(JSON.stringify(lines.slice(from))).not.toMatch(/"stack"/)
  })
})

describe("with Fastify's logger off (its default, and NestJS's)", () => {
  it("logs a request's unobserved failure through the plugin's logger, not the silent request.log", async () => {
    const log = memoryLogger()
    const app = Fastify()
    apps.push(app)
    await app.register(concurrencyPlugin, { logger: log.logger })
    const failed = deferred<void>()
    app.get('/', async (request) => {
      request.taskGroup.createTask(async () => {
        failed.resolve()
        throw new Error('nobody awaited me')
      })
      await failed.promise
      return 'ok'
    })
    const logged = log.next('error')
    expect((await app.inject('/')).statusCode).toBe(200)
    expect(inspect((await logged).fields.err)).toContain('nobody awaited me')
  })
})

describe('shutdown on app.close()', () => {
  it('refuses new background tasks from preClose, drains running ones, logs a summary', async () => {
    const { app, logged } = createApp()
    await app.register(concurrencyPlugin, { shutdownTimeout: 60_000 })
    const gate = deferred()
    const job = app.backgroundTasks.add(() => gate.promise.then(() => 'done'))
    let refused: unknown
    app.addHook('preClose', async () => {
      // Runs after ours (registration order): the runtime is already draining.
      try {
        app.backgroundTasks.add(async () => {})
      } catch (error) {
        refused = error
      }
      gate.resolve()
    })
    await app.ready()
    await app.close()
    expect(refused).toBeInstanceOf(ClosedError)
    expect(app.concurrency.draining).toBe(true)
    expect(await job).toBe('done')
    const summary = await logged((l) => l.msg === 'shut down cleanly')
    expect(summary).toMatchObject({ level: 30, background: { completed: 1 }, pool: 'not-started' })
  })

  it('cancels background tasks still running at the deadline with ShutdownError, and closes a started pool', async () => {
    const { app, logged } = createApp()
    await app.register(concurrencyPlugin, { shutdownTimeout: 0 })
    await app.ready()
    const job = app.backgroundTasks.add(untilAborted)
    const pool = app.threadpool
    await app.close()
    expect(job.signal.reason).toBeInstanceOf(ShutdownError)
    await expect(pool.run(() => 1, [])).rejects.toBeInstanceOf(ClosedError)
    const summary = await logged((l) => typeof l.msg === 'string' && l.msg.startsWith('shut down'))
    expect(summary).toMatchObject({ level: 40, background: { cancelled: 1 }, pool: 'closed' })
  })

  it('cancels a request still running at the deadline with ShutdownError: it answers 503 and close() resolves', async () => {
    const { app } = createApp()
    await app.register(concurrencyPlugin, { shutdownTimeout: 0 })
    const started = deferred()
    app.get('/hang', async (request) => {
      started.resolve()
      await request.taskGroup.createTask(untilAborted) // would wait forever without the deadline
    })
    const port = await listen(app)
    const request = http.get(`http://127.0.0.1:${port}/hang`, { agent: false })
    await started.promise
    await app.close()
    const [response] = (await once(request, 'response')) as [http.IncomingMessage]
    response.resume()
    expect(response.statusCode).toBe(503)
  })
})

describe('per-route config.concurrency and handlerTimeout', () => {
  it('refuses an invalid route config when the route is added, naming the route and the option', async () => {
    const { app } = createApp()
    await app.register(concurrencyPlugin)
    expect(() => app.get('/bad', { config: { concurrency: { limit: 0 } } }, async () => 'x')).toThrow(
      expect.objectContaining({
        code: 'ERR_OUT_OF_RANGE',
        message: 'The "limit" option of config.concurrency of route GET /bad must be an integer >= 1 or Infinity. Received 0 (number)',
      }),
    )
    expect(() => app.get('/typo', { config: { concurrency: { timout: 5 } as never } }, async () => 'x')).toThrow(
      expect.objectContaining({ code: 'ERR_INVALID_ARG_VALUE', message: expect.stringMatching(/unknown key "timout"/) }),
    )
  })

  it("takes Fastify's handlerTimeout as the group's deadline when it is earlier than config.concurrency.timeout", async () => {
    const { app } = createApp()
    await app.register(concurrencyPlugin)
    const budget = async (request: { taskGroup: { remaining(): number; deadline: number | undefined } }) => ({
      remaining: request.taskGroup.remaining(),
      hasDeadline: request.taskGroup.deadline !== undefined,
    })
    app.get('/handler-first', { handlerTimeout: 10_000, config: { concurrency: { timeout: 60_000 } } }, budget)
    app.get('/route-first', { handlerTimeout: 60_000, config: { concurrency: { timeout: 10_000 } } }, budget)
    app.get('/none', budget)
    for (const url of ['/handler-first', '/route-first']) {
      const { remaining } = (await app.inject(url)).json()
      expect(remaining).toBeGreaterThan(9_000)
      expect(remaining).toBeLessThanOrEqual(10_000)
    }
    expect((await app.inject('/none')).json()).toEqual({ remaining: null, hasDeadline: false }) // Infinity is JSON null
  })

  it("ends the request's tasks with a TimeoutError when Fastify's handlerTimeout fires", async () => {
    const { app } = createApp()
    await app.register(concurrencyPlugin)
    const seen = deferred<unknown>()
    app.get('/handler-timeout', { handlerTimeout: 20 }, async (request) => {
      await request.taskGroup
        .createTask((signal) => untilAborted(signal))
        .catch(() => {})
        .finally(() => seen.resolve(request.taskGroup.signal.reason))
      return 'late'
    })
    const response = await app.inject('/handler-timeout')
    expect(response.statusCode).toBe(503)
    const reason = (await seen.promise) as TimeoutError
    expect(reason).toBeInstanceOf(TimeoutError)
    expect((reason.cause as { code?: string }).code).toBe('FST_ERR_HANDLER_TIMEOUT')
  })
})
