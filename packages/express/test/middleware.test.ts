// @taskscope/express against real Express 5 apps: supertest for the happy paths, real sockets for
// disconnects and shutdown.
import { once } from 'node:events'
import http from 'node:http'
import net from 'node:net'
import {
  BackgroundTasks,
  CancelledError,
  getThreadpool,
  type RuntimeLogger,
  ShutdownError,
  TaskGroup,
  TaskGroupError,
} from '@taskscope/core'
import { type ConcurrencyMiddleware, concurrency } from '@taskscope/express'
import { closeServer, listenOnLoopback, memoryLogger } from '@taskscope/test-support'
import express, { type Express } from 'express'
import request from 'supertest'
import { afterEach, describe, expect, it, vi } from 'vitest'

const cleanups: Array<() => Promise<unknown>> = []
afterEach(async () => {
  vi.restoreAllMocks()
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup()
})

function setup(options?: Parameters<typeof concurrency>[0]) {
  const log = memoryLogger()
  const c = concurrency({ logger: log.logger, ...options })
  const app = express()
  app.use(c)
  cleanups.push(() => c.close({ timeout: 0 }))
  return { app, c, log }
}

async function listen(app: Express, c?: ConcurrencyMiddleware): Promise<{ server: http.Server; port: number }> {
  const server = http.createServer(app)
  const port = await listenOnLoopback(server)
  c?.attach(server)
  cleanups.push(() => closeServer(server))
  return { server, port }
}

describe('concurrency()', () => {
  it('catches app.use(concurrency) with a clear TypeError', async () => {
    const socket = new net.Socket()
    expect(() => (concurrency as (...args: unknown[]) => unknown)(new http.IncomingMessage(socket), {}, () => {})).toThrow(
      expect.objectContaining({
        code: 'ERR_INVALID_ARG_TYPE',
        message: expect.stringMatching(/app\.use\(concurrency\).*app\.use\(concurrency\(\)\)/),
      }),
    )
    const app = express()
    app.use(concurrency as never)
    const response = await request(app).get('/')
    expect(response.status).toBe(500)
  })

  it('validates options at once, naming the option and the value', () => {
    expect(() => concurrency({ shutdownTimeout: '5s' as never })).toThrow(
      expect.objectContaining({ code: 'ERR_INVALID_ARG_TYPE', message: expect.stringMatching(/"shutdownTimeout" option .* '5s'/) }),
    )
    expect(() => concurrency({ threadpool: { maxQueue: -1 } })).toThrow(expect.objectContaining({ code: 'ERR_OUT_OF_RANGE' }))
    expect(() => concurrency({ logger: console as never })).not.toThrow()
  })

  it('carries the app-level handle: runtime, lazy threadpool, backgroundTasks, stats, close, attach, errorHandler', async () => {
    const { c } = setup()
    expect(c.backgroundTasks).toBeInstanceOf(BackgroundTasks)
    expect(c.runtime.backgroundTasks).toBe(c.backgroundTasks)
    expect(c.stats().pool).toMatchObject({ threads: 0, completed: 0 }) // no thread started to report it
    expect(c.threadpool).toBe(c.runtime.threadpool)
    expect(c.threadpool).toBe(getThreadpool()) // the shared pool, by default
    expect(typeof c.errorHandler()).toBe('function')
    expect(c.errorHandler().length).toBe(4) // Express recognises error middleware by arity
  })
})

describe('req.taskGroup, req.threadpool, req.backgroundTasks', () => {
  it('are lazy getters on the request prototype, one group per request', async () => {
    const { app, c } = setup()
    app.get('/', async (req, res) => {
      const before = c.stats().requests.active
      const group = req.taskGroup
      res.json({
        before,
        group: group instanceof TaskGroup,
        same: group === req.taskGroup,
        own: Object.hasOwn(req, 'taskGroup'),
        pool: req.threadpool === c.threadpool,
        background: req.backgroundTasks === c.backgroundTasks,
        value: await group.createTask(async () => 'v'),
      })
    })
    const response = await request(app).get('/')
    expect(response.body).toEqual({ before: 0, group: true, same: true, own: false, pool: true, background: true, value: 'v' })
  })

  it('explain themselves when read before the middleware ran', async () => {
    const app = express()
    const c = concurrency()
    cleanups.push(() => c.close({ timeout: 0 }))
    let caught: unknown
    app.get('/early', (req, res) => {
      try {
        void req.taskGroup
      } catch (error) {
        caught = error
      }
      res.end()
    })
    app.use(c)
    app.get('/', (req, res) => void res.end(String(req.taskGroup instanceof TaskGroup)))
    await request(app).get('/') // defines the accessors on the app's request prototype
    await request(app).get('/early')
    expect(caught).toMatchObject({
      code: 'ERR_TASKSCOPE_NOT_REGISTERED',
      message: expect.stringMatching(/^req\.taskGroup is not available here: concurrency\(\) has not run for this request/),
    })
  })

  it('reach routes of a mounted sub-app', async () => {
    const { app } = setup()
    const sub = express()
    sub.get('/', (req, res) => void res.json({ group: req.taskGroup instanceof TaskGroup }))
    app.use('/sub', sub)
    expect((await request(app).get('/sub')).body).toEqual({ group: true })
  })

  it('uses one group when the same middleware is mounted twice', async () => {
    const { app, c } = setup()
    const router = express.Router()
    router.use(c)
    router.get('/', (req, res) => void res.json({ active: c.stats().requests.active, group: req.taskGroup instanceof TaskGroup }))
    app.use('/r', router)
    expect((await request(app).get('/r')).body).toEqual({ active: 0, group: true })
  })

  it('fails a request that reaches a second, different concurrency() with ERR_TASKSCOPE_ALREADY_REGISTERED', async () => {
    const { app } = setup()
    const other = concurrency()
    cleanups.push(() => other.close({ timeout: 0 }))
    const seen: unknown[] = []
    app.use(other)
    app.get('/', (_req, res) => void res.send('unreachable'))
    app.use((error: unknown, _req: express.Request, res: express.Response, _next: express.NextFunction) => {
      seen.push(error)
      res.status(500).end()
    })
    expect((await request(app).get('/')).status).toBe(500)
    expect(seen).toEqual([expect.objectContaining({ code: 'ERR_TASKSCOPE_ALREADY_REGISTERED' })])
  })

  it("logs unobserved failures at error, through pino-http's req.log when present", async () => {
    const { app } = setup()
    const requestLog = memoryLogger()
    app.use((req, _res, next) => {
      ;(req as unknown as { log: RuntimeLogger }).log = requestLog.logger
      next()
    })
    app.get('/', (req, res) => {
      req.taskGroup.createTask(async () => {
        throw new Error('lost')
      })
      res.send('ok')
    })
    const failed = requestLog.next('error')
    await request(app).get('/')
    expect((await failed).fields.err).toBeInstanceOf(TaskGroupError)
  })
})

describe('c.route()', () => {
  it('validates its options when the route is declared, naming the option and the value', () => {
    const { c } = setup()
    expect(() => c.route({ limit: 0 })).toThrow(
      expect.objectContaining({ code: 'ERR_OUT_OF_RANGE', message: expect.stringMatching(/"limit" option of c\.route\(\) .* Received 0/) }),
    )
    expect(() => c.route({ timout: 5 } as never)).toThrow(expect.objectContaining({ code: 'ERR_INVALID_ARG_VALUE' }))
  })

  it('fails the request with ERR_TASKSCOPE_GROUP_CREATED when req.taskGroup was used before it', async () => {
    const { app, c } = setup()
    const seen: unknown[] = []
    const touch = (req: express.Request, _res: express.Response, next: express.NextFunction): void => {
      void req.taskGroup
      next()
    }
    app.get('/', touch, c.route({ limit: 1 }), (_req, res) => void res.send('no'))
    app.use((error: unknown, _req: express.Request, res: express.Response, _next: express.NextFunction) => {
      seen.push(error)
      res.status(500).end()
    })
    expect((await request(app).get('/')).status).toBe(500)
    expect(seen).toEqual([expect.objectContaining({ code: 'ERR_TASKSCOPE_GROUP_CREATED' })])
  })
})

describe('c.errorHandler()', () => {
  // The statuses of escaped cancellations are checked on all three frameworks in integration-tests.
  it('answers an escaped cancellation itself: nothing reaches the next error handler or the console', async () => {
    const { app, c, log } = setup()
    const seen: unknown[] = []
    app.get('/', async () => {
      throw new ShutdownError()
    })
    app.use(c.errorHandler())
    app.use((error: unknown, _req: express.Request, _res: express.Response, next: express.NextFunction) => {
      seen.push(error)
      next(error)
    })
    const consoleError = vi.spyOn(console, 'error').mockImplementation(() => {})
    expect((await request(app).get('/')).status).toBe(503)
    expect(seen).toEqual([])
    expect(consoleError).not.toHaveBeenCalled()
    expect(log.entries.find((entry) => entry.level === 'info')?.fields).toMatchObject({ statusCode: 503 })
  })

  it('passes every other error on to the next error handler', async () => {
    const { app, c } = setup()
    const seen: unknown[] = []
    app.get('/', async () => {
      throw new Error('boom')
    })
    app.use(c.errorHandler())
    app.use((error: unknown, _req: express.Request, res: express.Response, _next: express.NextFunction) => {
      seen.push(error)
      res.status(500).send('handled')
    })
    const response = await request(app).get('/')
    expect(response.status).toBe(500)
    expect((seen[0] as Error).message).toBe('boom')
  })

  it('ends the exchange without a new answer when headers were already sent', async () => {
    const { app, c } = setup()
    app.get('/', async (_req, res) => {
      res.writeHead(200, { 'Content-Type': 'text/plain' })
      res.write('partial')
      throw new CancelledError()
    })
    app.use(c.errorHandler())
    const { port } = await listen(app)
    const req = http.get(`http://127.0.0.1:${port}/`)
    const [response] = (await once(req, 'response')) as [http.IncomingMessage]
    expect(response.statusCode).toBe(200)
    response.resume()
    const [error] = (await once(response, 'error')) as [Error & { code?: string }]
    expect(error.code).toBe('ECONNRESET')
  })
})

describe('shutdown', () => {
  it('answers requests with 503 + Connection: close once closing (without attach too)', async () => {
    const { app, c } = setup()
    app.get('/', (_req, res) => void res.send('app'))
    await c.close()
    const response = await request(app).get('/')
    expect(response.status).toBe(503)
    expect(response.headers.connection).toBe('close')
    expect(response.headers['retry-after']).toBe('1')
  })

  it('logs background failures at error through the logger', async () => {
    const { c, log } = setup()
    const failed = log.next('error')
    c.backgroundTasks.add(async () => {
      throw new Error('bg')
    })
    expect(((await failed).fields.err as Error).message).toBe('bg')
  })
})
