// @taskscope/koa against real Koa 3 apps: supertest for the happy paths, real sockets for
// disconnects and shutdown.
import { once } from 'node:events'
import http from 'node:http'
import net from 'node:net'
import { BackgroundTasks, getThreadpool, ShutdownError, TaskGroup } from '@taskscope/core'
import { type ConcurrencyMiddleware, concurrency } from '@taskscope/koa'
import { closeServer, deferred, listenOnLoopback, memoryLogger } from '@taskscope/test-support'
import Koa from 'koa'
import request from 'supertest'
import { afterEach, describe, expect, it, vi } from 'vitest'

const cleanups: Array<() => Promise<unknown>> = []
afterEach(async () => {
  vi.restoreAllMocks()
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup()
})

function setup(options?: Parameters<typeof concurrency>[0], koaOptions?: { asyncLocalStorage?: boolean }) {
  const log = memoryLogger()
  const c = concurrency({ logger: log.logger, ...options })
  const app = new Koa<Koa.DefaultState, Koa.DefaultContext>(koaOptions)
  const errors: unknown[] = []
  app.on('error', (error: unknown) => void errors.push(error))
  app.use(c)
  cleanups.push(() => c.close({ timeout: 0 }))
  return { app, c, log, errors }
}

/** GET / over a real socket; resolves with the body. */
async function fetchText(port: number): Promise<string> {
  const req = http.get(`http://127.0.0.1:${port}/`, { agent: false })
  const [response] = (await once(req, 'response')) as [http.IncomingMessage]
  let body = ''
  for await (const chunk of response) body += chunk
  return body
}

async function listen(app: Koa, c?: ConcurrencyMiddleware): Promise<{ server: http.Server; port: number }> {
  const server = http.createServer(app.callback())
  const port = await listenOnLoopback(server)
  c?.attach(server)
  cleanups.push(() => closeServer(server))
  return { server, port }
}

describe('concurrency()', () => {
  it('catches app.use(concurrency) with a clear TypeError', () => {
    const app = new Koa()
    const ctx = app.createContext(new http.IncomingMessage(new net.Socket()), {} as http.ServerResponse)
    expect(() => (concurrency as (...args: unknown[]) => unknown)(ctx, async () => {})).toThrow(
      expect.objectContaining({
        code: 'ERR_INVALID_ARG_TYPE',
        message: expect.stringMatching(/app\.use\(concurrency\).*app\.use\(concurrency\(\)\)/),
      }),
    )
  })

  it('validates options at once, naming the option and the value', () => {
    expect(() => concurrency({ shutdownTimeout: -1 })).toThrow(
      expect.objectContaining({ code: 'ERR_OUT_OF_RANGE', message: expect.stringMatching(/"shutdownTimeout" option/) }),
    )
    expect(() => concurrency({ backgroundTasks: 'x' as never })).toThrow(expect.objectContaining({ code: 'ERR_INVALID_ARG_TYPE' }))
    expect(() => concurrency('x' as never)).toThrow(/runtime options must be an object/)
  })

  it('carries the app-level handle: runtime, lazy threadpool, backgroundTasks, stats, close, attach', () => {
    const { c } = setup()
    expect(c.backgroundTasks).toBeInstanceOf(BackgroundTasks)
    expect(c.stats().pool).toMatchObject({ threads: 0, completed: 0 }) // no thread started to report it
    expect(c.threadpool).toBe(c.runtime.threadpool)
    expect(c.threadpool).toBe(getThreadpool()) // the shared pool, by default
    expect(typeof c.attach).toBe('function')
  })
})

describe('ctx.taskGroup, ctx.threadpool, ctx.backgroundTasks', () => {
  it.each([false, true])('are lazy getters on app.context, one group per request (asyncLocalStorage: %s)', async (asyncLocalStorage) => {
    const { app, c } = setup(undefined, { asyncLocalStorage })
    app.use(async (ctx) => {
      const before = c.stats().requests.active
      const group = ctx.taskGroup
      ctx.body = {
        before,
        group: group instanceof TaskGroup,
        same: group === ctx.taskGroup,
        own: Object.hasOwn(ctx, 'taskGroup'),
        onContext: Object.hasOwn(app.context, 'taskGroup'),
        pool: ctx.threadpool === c.threadpool,
        background: ctx.backgroundTasks === c.backgroundTasks,
        value: await group.createTask(async () => 'v'),
      }
    })
    const response = await request(app.callback()).get('/')
    expect(response.body).toEqual({
      before: 0,
      group: true,
      same: true,
      own: false,
      onContext: true,
      pool: true,
      background: true,
      value: 'v',
    })
  })

  it('keep the group alive after `await next()` returns, until the response is written', async () => {
    const { app } = setup()
    const seen = deferred<{ afterNext: boolean; writtenAtAfterNext: boolean; task: string }>()
    let afterNext = true
    let writtenAtAfterNext = true
    app.use(async (ctx, next) => {
      await next()
      afterNext = ctx.taskGroup.cancelled // runs before Koa writes the body
      writtenAtAfterNext = ctx.res.writableEnded
    })
    app.use(async (ctx) => {
      // A task that only ends when the body has been written: still allowed to finish.
      const task = ctx.taskGroup.createTask(() => once(ctx.res, 'finish').then(() => 'ran to the end'))
      task.then(
        (value) => seen.resolve({ afterNext, writtenAtAfterNext, task: value }),
        () => seen.resolve({ afterNext, writtenAtAfterNext, task: 'cancelled' }),
      )
      ctx.body = 'ok'
    })
    expect((await request(app.callback()).get('/')).text).toBe('ok')
    expect(await seen.promise).toEqual({ afterNext: false, writtenAtAfterNext: false, task: 'ran to the end' })
  })

  it("sends each unobserved task failure itself to app.emit('error', err, ctx)", async () => {
    const { app } = setup()
    const seen = deferred<unknown[]>()
    app.on('error', (error: unknown, ctx: unknown) => seen.resolve([error, ctx]))
    let context: unknown
    const lost = new Error('lost')
    app.use(async (ctx) => {
      context = ctx
      ctx.taskGroup.createTask(async () => {
        throw lost
      })
      ctx.body = 'ok'
    })
    const { port } = await listen(app)
    await fetchText(port)
    const [error, ctx] = await seen.promise
    expect(error).toBe(lost)
    expect(ctx).toBe(context)
  })

  it("prints the failed task's own message and stack through Koa's default error listener", async () => {
    const c = concurrency()
    cleanups.push(() => c.close({ timeout: 0 }))
    const app = new Koa()
    app.use(c)
    app.use(async (ctx) => {
      ctx.taskGroup.createTask(async function failingLookup() {
        throw new Error('inventory lookup failed')
      })
      ctx.taskGroup.createTask(async () => {
        throw new TypeError('second failure')
      })
      ctx.body = 'ok'
    })
    const consoleError = vi.spyOn(console, 'error').mockImplementation(() => {})
    const { port } = await listen(app)
    await fetchText(port)
    await c.close() // resolves once the request group has ended and reported its failures
    const text = consoleError.mock.calls.map((args) => String(args[0])).join('\n')
    expect(consoleError).toHaveBeenCalledTimes(2)
    expect(text).toMatch(/Error: inventory lookup failed\n\s+at failingLookup/)
    expect(text).toMatch(/TypeError: second failure/)
    expect(text).not.toMatch(/tasks? of the group failed/)
  })
})

describe('one concurrency() per app, and c.route()', () => {
  it('lets the same middleware run twice; a second, different one throws ERR_TASKSCOPE_ALREADY_REGISTERED', async () => {
    const { app, c, errors } = setup()
    const other = setup().c
    app.silent = true
    app.use(c) // the same c again: nothing more to do
    app.use(async (ctx, next) => (ctx.path === '/other' ? other(ctx, next) : next()))
    app.use(async (ctx) => {
      ctx.body = String(ctx.taskGroup instanceof TaskGroup)
    })
    expect((await request(app.callback()).get('/')).text).toBe('true')
    expect((await request(app.callback()).get('/other')).status).toBe(500)
    expect(errors).toEqual([expect.objectContaining({ code: 'ERR_TASKSCOPE_ALREADY_REGISTERED' })])
  })

  it('validates route options when declared, and refuses them once ctx.taskGroup exists', async () => {
    const { app, c, errors } = setup()
    expect(() => c.route({ timeout: -1 })).toThrow(
      expect.objectContaining({ code: 'ERR_OUT_OF_RANGE', message: expect.stringMatching(/"timeout" option of c\.route\(\)/) }),
    )
    app.silent = true
    const late = c.route({ limit: 1 })
    app.use(async (ctx, next) => {
      void ctx.taskGroup
      await late(ctx, next)
    })
    expect((await request(app.callback()).get('/')).status).toBe(500)
    expect(errors).toEqual([expect.objectContaining({ code: 'ERR_TASKSCOPE_GROUP_CREATED' })])
  })
})

describe('escaped cancellations', () => {
  // The statuses of escaped cancellations are checked on all three frameworks in integration-tests.
  it('answers an escaped cancellation itself (Koa alone would answer 500 and print it): no error event', async () => {
    const { app, errors, log } = setup()
    app.use(async () => {
      throw new ShutdownError()
    })
    const consoleError = vi.spyOn(console, 'error').mockImplementation(() => {})
    expect((await request(app.callback()).get('/')).status).toBe(503)
    expect(errors).toEqual([])
    expect(consoleError).not.toHaveBeenCalled()
    expect(log.entries.find((entry) => entry.level === 'info')?.fields).toMatchObject({ statusCode: 503 })
  })

  it('leaves other errors to Koa', async () => {
    const { app, errors } = setup()
    app.silent = true
    app.use(async () => {
      throw new Error('boom')
    })
    expect((await request(app.callback()).get('/')).status).toBe(500)
    expect((errors[0] as Error).message).toBe('boom')
  })
})

describe('the middleware called directly', () => {
  it('rejects (never throws) on misuse, and answers a cancellation a throwing `next` raised synchronously', async () => {
    const { app, c } = setup()
    const other = setup().c
    const ctx = app.createContext(
      new http.IncomingMessage(new net.Socket()),
      new http.ServerResponse(new http.IncomingMessage(new net.Socket())),
    )
    await expect(c(ctx, async () => {})).resolves.toBeUndefined()
    let result: Promise<void> | undefined
    expect(() => {
      result = other(ctx, async () => {})
    }).not.toThrow()
    await expect(result).rejects.toMatchObject({ code: 'ERR_TASKSCOPE_ALREADY_REGISTERED' })
    const fresh = app.createContext(
      new http.IncomingMessage(new net.Socket()),
      new http.ServerResponse(new http.IncomingMessage(new net.Socket())),
    )
    await expect(
      c(fresh, () => {
        throw new ShutdownError()
      }),
    ).resolves.toBeUndefined()
    expect(fresh.status).toBe(503)
    const failing = app.createContext(
      new http.IncomingMessage(new net.Socket()),
      new http.ServerResponse(new http.IncomingMessage(new net.Socket())),
    )
    await expect(c(failing, () => Promise.reject(new Error('boom')))).rejects.toThrow('boom')
  })
})

describe('shutdown', () => {
  it('answers requests with 503 + Connection: close once closing', async () => {
    const { app, c } = setup()
    app.use(async (ctx) => {
      ctx.body = 'app'
    })
    await c.close()
    const response = await request(app.callback()).get('/')
    expect(response.status).toBe(503)
    expect(response.headers['retry-after']).toBe('1')
  })

  it("sends background failures to app.emit('error') once the app has been seen, naming the task", async () => {
    const { app, c } = setup()
    const seen = deferred<Error>()
    app.on('error', (error: Error) => seen.resolve(error))
    app.use(async (ctx) => {
      ctx.body = 'ok'
    })
    const { port } = await listen(app)
    await fetchText(port)
    let boom: Error | undefined
    const job = c.backgroundTasks.add(
      async function refreshAnalytics() {
        throw (boom = new Error('bg'))
      },
      { name: 'refresh analytics' },
    )
    const error = await seen.promise
    expect(error.message).toBe(`Background task "refresh analytics" (id ${job.id}) failed: bg`)
    expect(error.cause).toBe(boom)
    expect(error.stack).toMatch(/^Error: Background task "refresh analytics" .*\ncaused by: Error: bg\n\s+at refreshAnalytics/)
  })

  it('keeps a background onError the caller gave', async () => {
    const seen = deferred<unknown>()
    const c = concurrency({ backgroundTasks: { onError: seen.resolve } })
    cleanups.push(() => c.close({ timeout: 0 }))
    const boom = new Error('bg')
    c.backgroundTasks.add(() => Promise.reject(boom))
    expect(await seen.promise).toBe(boom)
  })
})
