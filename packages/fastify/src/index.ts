/**
 * taskscope for Fastify 5: `request.taskGroup` (a TaskGroup per request, cancelled when the client
 * goes away), `fastify.threadpool`, `fastify.backgroundTasks`, and a graceful shutdown on
 * `fastify.close()`. All the logic lives in `@taskscope/core`'s runtime; this file only maps
 * Fastify's lifecycle onto it.
 *
 * @module
 */

import type { AfterResponseMethods } from '@taskscope/core'
import {
  createRuntime,
  type RegisteredBackgroundTasks,
  type Runtime,
  type RuntimeOptions,
  type TaskGroup,
  type Threadpool,
} from '@taskscope/core'
import * as kit from '@taskscope/core/adapter'
import type { FastifyInstance, FastifyPluginAsync, FastifyReply, FastifyRequest, RouteHandlerMethod } from 'fastify'
import fp from 'fastify-plugin'
import { groupOptions, silenceLog, tieHandlerTimeout, writingLogger } from './lifecycle.js'

declare module 'fastify' {
  /** `request.after(work)` and `request.waitUntil(work)`: work after the response, in the app's background tasks. */
  interface FastifyRequest extends AfterResponseMethods {
    /**
     * The request's TaskGroup, created on first use. Its signal aborts with
     * `ClientDisconnectedError` when the client goes away before the response completes; tasks
     * still running when the response completes are cancelled with `RequestFinishedError`.
     */
    taskGroup: TaskGroup
    /**
     * The app's background tasks (the same as `fastify.backgroundTasks`): typed as the registry
     * declared in `Register` (`@taskscope/core`), the embedded one by default.
     */
    backgroundTasks: RegisteredBackgroundTasks
  }
  interface FastifyContextConfig {
    /** Per-route options of `request.taskGroup`: `{ limit?, timeout? }` (see {@link RouteConcurrencyConfig}). */
    concurrency?: RouteConcurrencyConfig
  }
  interface FastifyInstance {
    /** The app's worker pool, created on first use, closed by `fastify.close()`. */
    threadpool: Threadpool
    /**
     * The app's background tasks (work that outlives a request), drained by `fastify.close()`:
     * typed as the registry declared in `Register` (`@taskscope/core`), the embedded one by default.
     */
    backgroundTasks: RegisteredBackgroundTasks
    /** The taskscope runtime: `stats()`, `draining`, and the rest. */
    concurrency: Runtime
  }
}

/**
 * Options of {@link concurrencyPlugin}: the runtime's options. `logger` defaults to `fastify.log`
 * (each request logs through `request.log`, so entries carry the request id; through this logger
 * when Fastify's own logger is off, as it is by default).
 */
export interface FastifyConcurrencyOptions extends RuntimeOptions {}

/**
 * A route's `config.concurrency`: options for its requests' task groups.
 *
 * @example
 * ```ts
 * app.get('/report', { config: { concurrency: { timeout: 2_000, limit: 4 } } }, handler)
 * ```
 */
export interface RouteConcurrencyConfig extends kit.RouteGroupOptions {}

const binding = kit.requestBinding<FastifyRequest>({
  name: 'request',
  namespace: 'fastify',
  adapter: '@taskscope/fastify',
  install: 'register it at the root, before your routes',
  request: (request) => request.raw,
  groupOptions,
  created: tieHandlerTimeout,
  route: (request) => request.routeOptions.url,
})

/** The status Fastify answers `error` with: its own `statusCode`/`status` (400–599), else 500. */
function statusOf(error: unknown): number {
  const { statusCode, status } = (error ?? {}) as { statusCode?: unknown; status?: unknown }
  for (const code of [statusCode, status]) if (typeof code === 'number' && code >= 400 && code <= 599) return code
  return 500
}

/**
 * Wraps a route handler: what it throws goes to Fastify's error path as the request's failure
 * (`kit.escapedFailure`): the task failure behind a cancellation, not the cancellation.
 */
function failWithCause(handler: RouteHandlerMethod): RouteHandlerMethod {
  const swap = (error: unknown, request: FastifyRequest, reply: FastifyReply): unknown =>
    kit.escapedFailure(error, { req: request.raw, res: reply.raw, group: binding.group(request) })?.fail ?? error
  return function taskscopeHandler(this: FastifyInstance, request, reply) {
    let result: unknown
    try {
      result = handler.call(this, request, reply)
    } catch (error) {
      throw swap(error, request, reply)
    }
    if (result instanceof Promise) return result.then(undefined, (error: unknown) => Promise.reject(swap(error, request, reply)))
    return result
  } as RouteHandlerMethod
}

const plugin: FastifyPluginAsync<FastifyConcurrencyOptions> = async function taskscope(fastify, options) {
  if (fastify.hasDecorator('concurrency')) throw kit.alreadyRegisteredError('@taskscope/fastify', 'register it once, at the root')
  const { threadpool, backgroundTasks, shutdownTimeout, logger } = options
  const runtime = createRuntime({ threadpool, backgroundTasks, shutdownTimeout, logger: logger ?? fastify.log })
  // Shutdown through the server: from preClose on, the response in flight on each keep-alive
  // connection carries `Connection: close` (else that connection would hold fastify.close() open
  // until keepAliveTimeout), and at the deadline the runtime closes connections still open (a
  // slowloris, a slow body, an HTTP/2 session). Nothing runs per request for this before then.
  runtime.attach(fastify.server)

  fastify.decorate('concurrency', runtime)
  fastify.decorate('backgroundTasks', runtime.backgroundTasks)
  fastify.decorate('threadpool', { getter: () => runtime.threadpool }) // the pool starts on first use
  // Request decorators must not be objects in Fastify 5: null holders plus a lazy getter.
  for (const key of binding.keys) fastify.decorateRequest(key, null)
  for (const key of Reflect.ownKeys(binding.accessors)) {
    const { get, value } = binding.accessors[key as string]!
    fastify.decorateRequest(key as string, get === undefined ? value : { getter: get as (this: FastifyRequest) => unknown })
  }

  // A route's config.concurrency is checked when the route is added, not at its first request.
  // Its handler is wrapped so that a cancellation caused by a task's failure reaches Fastify's
  // error handler as that failure (its status, logged once by Fastify at error with the request id).
  fastify.addHook('onRoute', function checkRouteConfig(route) {
    const { config, method, url } = route
    const options = (config as { concurrency?: RouteConcurrencyConfig } | undefined)?.concurrency
    if (options !== undefined) kit.validateRouteOptions(options, `config.concurrency of route ${String(method)} ${url}`)
    route.handler = failWithCause(route.handler)
  })

  fastify.addHook('onRequest', function mount(request, reply, done) {
    binding.mount(request, runtime, reply.raw)
    binding.run(request, done)
  })

  // An escaped cancellation answers its own status (499 client closed request, 503 shutdown...).
  // The kit logged it (one line, no stack; at debug once the client is gone): Fastify's error
  // handler, which runs next, must not log it again. One caused by a task's failure (from a hook:
  // a handler's was swapped for the failure above) answers the failure's status, and Fastify logs it.
  fastify.addHook('onError', function escapedCancellation(request, reply, error, done) {
    const answer = kit.answerEscaped(error, {
      req: request.raw,
      res: reply.raw,
      group: binding.group(request),
      logger: writingLogger(request.log) ?? runtime.logger,
    })
    if (typeof answer === 'object' && 'fail' in answer) {
      if (answer.fail !== error) reply.code(statusOf(answer.fail))
      return done()
    }
    silenceLog(reply)
    if (answer !== 'end') reply.code(answer.status)
    done()
  })

  // Must resolve to nothing: a value would make fastify.close() reject with it.
  fastify.addHook('preClose', async function beginDrain() {
    runtime.drain()
  })
  fastify.addHook('onClose', async function closeRuntime() {
    await runtime.close()
  })
}

/**
 * The Fastify plugin. Register it once, at the root, before your routes:
 * `request.taskGroup`, `fastify.threadpool`, `fastify.backgroundTasks` and `fastify.concurrency`
 * become available, and `fastify.close()` shuts everything down in order (new background tasks
 * refused, in-flight requests finish, background tasks drain up to `shutdownTimeout`, leftovers
 * cancelled with `ShutdownError`, pool closed, summary logged).
 *
 * Registration fails with a TypeError/RangeError for invalid options, and with
 * `ERR_TASKSCOPE_ALREADY_REGISTERED` when registered twice.
 *
 * @example
 * ```ts
 * import Fastify from 'fastify'
 * import { concurrencyPlugin } from '@taskscope/fastify'
 *
 * const app = Fastify({ logger: true })
 * await app.register(concurrencyPlugin, { shutdownTimeout: 5_000 })
 * app.get('/dashboard', async (request) => {
 *   const user = request.taskGroup.createTask((signal) => getUser(signal))
 *   const feed = request.taskGroup.createTask((signal) => getFeed(signal))
 *   return { user: await user, feed: await feed }
 * })
 * ```
 */
export const concurrencyPlugin: FastifyPluginAsync<FastifyConcurrencyOptions> = fp(plugin, {
  fastify: '5.x',
  name: '@taskscope/fastify',
})

export default concurrencyPlugin
