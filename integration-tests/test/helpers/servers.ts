// One server factory per framework, all with the same shape, so every scenario is written once and
// run against Fastify, Express and Koa with `describe.each(frameworks)`.
//
// Routes are framework-neutral: a handler receives a small context (the request's task group, the
// app's background registry and pool, the parsed body, the route params, the raw socket) and returns
// the response body (an object is sent as JSON, a string as text, undefined as an empty body). A
// handler that throws goes through the framework's own error path (Express: `c.errorHandler()`,
// mounted after the routes as the docs say).
//
// Each app uses the adapter's PUBLIC API only:
//   Fastify  `await app.register(concurrencyPlugin, opts)`, `request.taskGroup`, `app.backgroundTasks`,
//            `app.threadpool`, `app.concurrency.stats()`, route `config.concurrency`, shutdown on `app.close()`.
//   Express  `const c = concurrency(opts); app.use(c)`, `express.json()`, routes (with `c.route(options)`),
//            `app.use(c.errorHandler())`, `req.taskGroup`/`req.backgroundTasks`/`req.threadpool`, `c.stats()`,
//            `c.attach(server)` + `c.close()`.
//   Koa      `const c = concurrency(opts); app.use(c)`, a tiny JSON body reader, a tiny router (running
//            `c.route(options)` before a route's handler), `ctx.taskGroup`/`ctx.backgroundTasks`/`ctx.threadpool`,
//            `c.stats()`, `c.attach(server)` + `c.close()`.
import http from 'node:http'
import http2 from 'node:http2'
import type { AddressInfo, Socket } from 'node:net'
import type { AfterResponseMethods, BackgroundTasks, RuntimeStats, TaskGroup, Threadpool } from '@taskscope/core'
import { concurrency as expressConcurrency } from '@taskscope/express'
import concurrencyPlugin from '@taskscope/fastify'
import { concurrency as koaConcurrency } from '@taskscope/koa'
import { closeServer, httpRequest, listenOnLoopback, track } from '@taskscope/test-support'
import express from 'express'
import Fastify, { type FastifyInstance } from 'fastify'
import Koa from 'koa'

export type FrameworkName = 'fastify' | 'express' | 'koa'

/** What a neutral route handler gets. */
export interface RouteContext {
  framework: FrameworkName
  /** The request's group; read lazily from the framework object (created on first use). */
  readonly taskGroup: TaskGroup
  backgroundTasks: BackgroundTasks
  threadpool: Threadpool
  body: unknown
  params: Record<string, string>
  /** The TCP socket of an HTTP/1 request (undefined over HTTP/2). */
  socket: Socket | undefined
  status(code: number): void
  header(name: string, value: string): void
  /** `request.after` / `req.after` / `ctx.after`, called on the framework's own object. */
  after: AfterResponseMethods['after']
  /** `request.waitUntil` / `req.waitUntil` / `ctx.waitUntil`, called on the framework's own object. */
  waitUntil: AfterResponseMethods['waitUntil']
}

export type Handler = (ctx: RouteContext) => unknown

export interface Route {
  method: 'GET' | 'POST'
  /** Express-style pattern, `:name` segments become `params.name`. */
  path: string
  handler: Handler
  /** The route's request-group options: Fastify's `config.concurrency`, `c.route(options)` in Express and Koa. */
  concurrency?: { limit?: number; timeout?: number }
}

export interface StartOptions {
  routes: Route[]
  /** Passed to the adapter (ms). */
  shutdownTimeout?: number
  /** Serve HTTP/2 cleartext (h2c) instead of HTTP/1.1. */
  http2?: boolean
}

export type ConcurrencyStats = RuntimeStats

export interface LogEntry {
  source: string
  level: string
  /** The whole entry, stringified, for searching. */
  text: string
}

/** Everything the app logged (framework logger, the adapter's logger, error events/sinks). */
export class LogCapture {
  readonly entries: LogEntry[] = []

  record(source: string, level: string, ...args: unknown[]): void {
    this.entries.push({ source, level, text: args.map(stringify).join(' ') })
  }

  /** A pino-compatible logger for the Express/Koa adapters' `logger` option. */
  readonly logger = (() => {
    const make = (): Record<string, unknown> => {
      const logger: Record<string, unknown> = {}
      for (const level of ['trace', 'debug', 'info', 'warn', 'error', 'fatal']) {
        logger[level] = (...args: unknown[]) => this.record('adapter', level, ...args)
      }
      logger.child = () => logger
      logger.level = 'trace'
      return logger
    }
    return make()
  })()

  /** Entries at error level or above that are about a cancellation (H4: those must be quiet). */
  loudCancellations(): LogEntry[] {
    return this.entries.filter((e) => (e.level === 'error' || e.level === 'fatal') && CANCELLATION_PATTERN.test(e.text))
  }
}

const CANCELLATION_PATTERN =
  /ERR_CLIENT_CLOSED_REQUEST|ERR_REQUEST_FINISHED|ERR_CANCELLED|ClientDisconnectedError|RequestFinishedError|CancelledError|AbortError/

function stringify(value: unknown): string {
  if (value instanceof Error) {
    const { name, message, stack } = value
    const extra = value as { code?: unknown; cause?: unknown; errors?: unknown[] }
    // Own non-enumerable parts too: a TaskGroupError names its failures only in `errors`.
    return JSON.stringify({
      ...value,
      name,
      message,
      stack,
      code: extra.code,
      cause: extra.cause === undefined ? undefined : stringify(extra.cause),
      errors: Array.isArray(extra.errors) ? extra.errors.map(stringify) : undefined,
    })
  }
  if (typeof value === 'string') return value
  try {
    return JSON.stringify(value, (_key, v: unknown) => (v instanceof Error ? stringify(v) : v))
  } catch {
    return String(value)
  }
}

export interface StartedApp {
  framework: FrameworkName
  url: string
  port: number
  server: http.Server | http2.Http2Server
  /** The adapter's shutdown: `app.close()` (Fastify), `c.close()` with `c.attach(server)` (Express, Koa). Once. */
  close(): Promise<void>
  stats(): ConcurrencyStats
  backgroundTasks: BackgroundTasks
  threadpool: Threadpool
  logs: LogCapture
}

/** Every app also serves `GET /__ping`, used by `roundTrip()`. */
const pingRoute: Route = { method: 'GET', path: '/__ping', handler: () => 'pong' }

/**
 * One full request/response on a fresh connection. Used as a barrier: whatever the server was doing
 * on earlier ticks (error handling and logging of a request the client abandoned) has run by then.
 */
export async function roundTrip(app: StartedApp): Promise<void> {
  const res = await httpRequest(app.port, { path: '/__ping' }).response
  if (res.status !== 200) throw new Error(`ping answered ${res.status}`)
}

export interface Framework {
  name: FrameworkName
  /** `true`, or the reason the framework cannot serve HTTP/2 (the HTTP/2 tests are skipped then). */
  http2: true | string
  start(options: StartOptions): Promise<StartedApp>
}

// ---------------------------------------------------------------------------------------------

function once<T>(fn: () => Promise<T>): () => Promise<T> {
  let promise: Promise<T> | undefined
  return () => (promise ??= fn())
}

/**
 * Registers the app for `cleanup()`: the adapter's close (once), then, as a safety net only, a
 * forced close of the server if the adapter left it listening (tests that care assert on that).
 */
function register(app: StartedApp): StartedApp {
  // supertest and fetch-free helpers may use Node's global keep-alive agent: drop its sockets too.
  track('client', () => http.globalAgent.destroy())
  track('server', async () => {
    try {
      await app.close()
    } finally {
      await closeServer(app.server)
    }
  })
  return app
}

/** Tiny path matcher for Koa (no router is installed): `/jobs/:id` style patterns. */
function matchPath(pattern: string, path: string): Record<string, string> | undefined {
  const want = pattern.split('/')
  const got = path.split('/')
  if (want.length !== got.length) return undefined
  const params: Record<string, string> = {}
  for (let i = 0; i < want.length; i++) {
    const w = want[i]!
    const g = got[i]!
    if (w.startsWith(':')) params[w.slice(1)] = decodeURIComponent(g)
    else if (w !== g) return undefined
  }
  return params
}

// Node's default keepAliveTimeout (5 s) would let a shutdown that forgets `Connection: close`
// still finish inside the test timeout; Fastify's default is 72 s. Use a long one everywhere so
// such a bug fails the test instead of passing slowly.
const KEEP_ALIVE_TIMEOUT = 60_000

// ---------------------------------------------------------------------------------------------
// Fastify

const fastifyFramework: Framework = {
  name: 'fastify',
  http2: true,
  async start({ routes: given, shutdownTimeout, http2: useHttp2 = false }) {
    const routes = [...given, pingRoute]
    const logs = new LogCapture()
    const logger = {
      level: 'trace',
      stream: {
        write(line: string) {
          const entry = JSON.parse(line) as { level: number }
          const level = entry.level >= 60 ? 'fatal' : entry.level >= 50 ? 'error' : entry.level >= 40 ? 'warn' : 'info'
          logs.record('fastify', level, line)
        },
      },
    }
    // One code path for both transports: the HTTP/2 instance differs only in its raw server type.
    const app = (useHttp2
      ? Fastify({ http2: true, logger, keepAliveTimeout: KEEP_ALIVE_TIMEOUT })
      : Fastify({ logger, keepAliveTimeout: KEEP_ALIVE_TIMEOUT })) as unknown as FastifyInstance
    await app.register(concurrencyPlugin, shutdownTimeout === undefined ? {} : { shutdownTimeout })
    for (const route of routes) {
      app.route({
        method: route.method,
        url: route.path,
        config: route.concurrency === undefined ? {} : { concurrency: route.concurrency },
        handler: async (request, reply) => {
          const value = await route.handler({
            framework: 'fastify',
            // A getter: the group is created on first use (H1), when the handler touches it.
            get taskGroup() {
              return request.taskGroup
            },
            backgroundTasks: app.backgroundTasks,
            threadpool: app.threadpool,
            body: request.body,
            params: request.params as Record<string, string>,
            socket: request.raw.httpVersionMajor === 1 ? request.raw.socket : undefined,
            status: (code) => void reply.code(code),
            header: (name, value) => void reply.header(name, value),
            after: (work) => request.after(work),
            waitUntil: (work) => request.waitUntil(work),
          })
          if (reply.sent) return reply
          return reply.send(value === undefined ? '' : value)
        },
      })
    }
    await app.listen({ port: 0, host: '127.0.0.1' })
    const port = (app.server.address() as AddressInfo).port
    const started: StartedApp = {
      framework: 'fastify',
      url: `http://127.0.0.1:${port}`,
      port,
      server: app.server,
      close: once(() => app.close()),
      stats: () => app.concurrency.stats(),
      backgroundTasks: app.backgroundTasks,
      threadpool: app.threadpool,
      logs,
    }
    return register(started)
  },
}

// ---------------------------------------------------------------------------------------------
// Express

const expressFramework: Framework = {
  name: 'express',
  // Express 5 replaces each request's prototype with `app.request` (an http.IncomingMessage);
  // an Http2ServerRequest loses its own methods, and reading the body throws
  // "Cannot read properties of undefined (reading 'readable')" as an unhandled 'error' event that
  // kills the process (checked with express 5.3.0 on Node 20.20). Express cannot serve HTTP/2.
  http2: 'Express 5 does not support node:http2 (its request prototype swap crashes on Http2ServerRequest)',
  async start({ routes: given, shutdownTimeout, http2: useHttp2 = false }) {
    if (useHttp2) throw new Error('Express cannot serve HTTP/2')
    const routes = [...given, pingRoute]
    const logs = new LogCapture()
    const c = expressConcurrency({ logger: logs.logger as never, ...(shutdownTimeout === undefined ? {} : { shutdownTimeout }) })
    const app = express()
    app.use(c)
    app.use(express.json())
    for (const route of routes) {
      const method = route.method === 'GET' ? 'get' : 'post'
      const routeOptions = route.concurrency === undefined ? [] : [c.route(route.concurrency)]
      app[method](route.path, ...routeOptions, async (req: express.Request, res: express.Response) => {
        const value = await route.handler({
          framework: 'express',
          get taskGroup() {
            return req.taskGroup
          },
          backgroundTasks: req.backgroundTasks,
          threadpool: req.threadpool,
          body: req.body,
          params: req.params as Record<string, string>,
          socket: req.socket,
          status: (code) => void res.status(code),
          header: (name, value) => void res.setHeader(name, value),
          after: (work) => req.after(work),
          waitUntil: (work) => req.waitUntil(work),
        })
        if (res.headersSent) return
        if (value === undefined) res.end()
        else if (typeof value === 'string') res.send(value)
        else res.json(value)
      })
    }
    app.use(c.errorHandler())
    // What reaches this sink was not handled by the adapter: Express's default handler would print it
    // with console.error (outside NODE_ENV=test), so it counts as logged at error level.
    app.use((err: unknown, _req: express.Request, _res: express.Response, next: express.NextFunction) => {
      logs.record('express-final-handler', 'error', err)
      next(err)
    })
    const server = http.createServer(app)
    server.keepAliveTimeout = KEEP_ALIVE_TIMEOUT
    const port = await listenOnLoopback(server)
    c.attach(server)
    const started: StartedApp = {
      framework: 'express',
      url: `http://127.0.0.1:${port}`,
      port,
      server,
      close: once(async () => {
        await c.close()
      }),
      stats: () => c.stats(),
      backgroundTasks: c.backgroundTasks,
      threadpool: c.threadpool,
      logs,
    }
    return register(started)
  },
}

// ---------------------------------------------------------------------------------------------
// Koa

const koaFramework: Framework = {
  name: 'koa',
  http2: true,
  async start({ routes: given, shutdownTimeout, http2: useHttp2 = false }) {
    const routes = [...given, pingRoute]
    const logs = new LogCapture()
    const c = koaConcurrency({ logger: logs.logger as never, ...(shutdownTimeout === undefined ? {} : { shutdownTimeout }) })
    const app = new Koa()
    // Koa's default `app.onerror` stays silent for `expose` errors and prints the rest.
    app.on('error', (err: { expose?: boolean }) => logs.record('koa-app-error', err?.expose ? 'info' : 'error', err))
    app.use(c)
    // No body parser is installed: read JSON bodies ourselves, like koa-bodyparser would.
    app.use(async (ctx, next) => {
      if (ctx.method === 'POST') {
        const chunks: Buffer[] = []
        for await (const chunk of ctx.req) chunks.push(chunk as Buffer)
        const text = Buffer.concat(chunks).toString('utf8')
        ctx.state.body = text !== '' && ctx.is('application/json') ? JSON.parse(text) : text
      }
      await next()
    })
    const routeOptions = new Map(routes.map((route) => [route, route.concurrency && c.route(route.concurrency)]))
    app.use(async (ctx, next) => {
      for (const route of routes) {
        if (route.method !== ctx.method) continue
        const params = matchPath(route.path, ctx.path)
        if (params === undefined) continue
        await routeOptions.get(route)?.(ctx, async () => {})
        const value = await route.handler({
          framework: 'koa',
          get taskGroup() {
            return ctx.taskGroup
          },
          backgroundTasks: ctx.backgroundTasks,
          threadpool: ctx.threadpool,
          body: ctx.state.body,
          params,
          socket: ctx.req.httpVersionMajor === 1 ? ctx.req.socket : undefined,
          status: (code) => void (ctx.status = code),
          header: (name, value) => void ctx.set(name, value),
          after: (work) => ctx.after(work),
          waitUntil: (work) => ctx.waitUntil(work),
        })
        ctx.body = value === undefined ? '' : value
        return
      }
      await next()
    })
    let server: http.Server | http2.Http2Server
    if (useHttp2) {
      server = http2.createServer(app.callback())
    } else {
      const h1 = http.createServer(app.callback())
      h1.keepAliveTimeout = KEEP_ALIVE_TIMEOUT
      server = h1
    }
    const port = await listenOnLoopback(server)
    c.attach(server)
    const started: StartedApp = {
      framework: 'koa',
      url: `http://127.0.0.1:${port}`,
      port,
      server,
      close: once(async () => {
        await c.close()
      }),
      stats: () => c.stats(),
      backgroundTasks: c.backgroundTasks,
      threadpool: c.threadpool,
      logs,
    }
    return register(started)
  },
}

export const frameworks: Framework[] = [fastifyFramework, expressFramework, koaFramework]

/** A plain upstream HTTP server for the seed's "parallel fetches" handler, closed by `cleanup()`. */
export async function startUpstream(
  handler: (req: http.IncomingMessage, res: http.ServerResponse) => void,
): Promise<{ url: string; server: http.Server }> {
  const server = http.createServer(handler)
  const port = await listenOnLoopback(server)
  track('server', () => closeServer(server))
  return { url: `http://127.0.0.1:${port}`, server }
}
