/**
 * taskscope for Fastify 5: `request.taskGroup` (a TaskGroup per request, cancelled when the client
 * goes away), `fastify.threadpool`, `fastify.backgroundTasks`, and a graceful shutdown on
 * `fastify.close()`. All the logic lives in `@taskscope/core`'s runtime; this file only maps
 * Fastify's lifecycle onto it.
 *
 * @module
 */
import type { FastifyPluginAsync, FastifyRequest } from 'fastify'
import fp from 'fastify-plugin'
import {
  type BackgroundTasks,
  cancellationStatus,
  createRuntime,
  type HttpResponse,
  type Runtime,
  type RuntimeOptions,
  TaskGroup,
  type Threadpool,
  TimeoutError,
} from '@taskscope/core'

declare module 'fastify' {
  interface FastifyRequest {
    /**
     * The request's TaskGroup, created on first use. Its signal aborts with
     * `ClientDisconnectedError` when the client goes away before the response completes; tasks
     * still running when the response completes are cancelled with `RequestFinishedError`.
     */
    taskGroup: TaskGroup
  }
  interface FastifyContextConfig {
    /** Per-route options of `request.taskGroup`: `{ limit?, timeout? }` (see {@link RouteConcurrencyConfig}). */
    concurrency?: RouteConcurrencyConfig
  }
  interface FastifyInstance {
    /** The app's worker pool, created on first use, closed by `fastify.close()`. */
    threadpool: Threadpool
    /** The app's background tasks (work that outlives a request), drained by `fastify.close()`. */
    backgroundTasks: BackgroundTasks
    /** The taskscope runtime: `stats()`, `draining`, and the rest. */
    concurrency: Runtime
  }
}

/**
 * Options of {@link concurrencyPlugin}: the runtime's options. `logger` defaults to `fastify.log`
 * (each request logs through `request.log`, so entries carry the request id).
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
export interface RouteConcurrencyConfig {
  /** At most this many of the request's tasks run at once; the rest queue (FIFO). */
  limit?: number
  /** Past this many ms the request's tasks are cancelled with a TimeoutError (answered 504 if it escapes). */
  timeout?: number
}

const kResponse = Symbol('taskscope.response')
const kGroup = Symbol('taskscope.taskGroup')

interface ScopedRequest {
  [kResponse]: HttpResponse | null
  [kGroup]: TaskGroup | null
}

/** A coded error for registering the plugin where it is already registered. */
function alreadyRegistered(): Error {
  const error = new Error(
    '@taskscope/fastify is already registered on this Fastify instance or one of its parents: register it once, at the root',
  ) as Error & { code: string }
  error.code = 'ERR_TASKSCOPE_ALREADY_REGISTERED'
  return error
}

const plugin: FastifyPluginAsync<FastifyConcurrencyOptions> = async function taskscope(fastify, options) {
  if (fastify.hasDecorator('concurrency')) throw alreadyRegistered()
  const { threadpool, backgroundTasks, shutdownTimeout, logger } = options
  const runtime = createRuntime({ threadpool, backgroundTasks, shutdownTimeout, logger: logger ?? fastify.log })

  fastify.decorate('concurrency', runtime)
  fastify.decorate('backgroundTasks', runtime.backgroundTasks)
  fastify.decorate('threadpool', {
    getter: () => runtime.threadpool, // the pool starts on first use
  })
  // Request decorators must not be objects in Fastify 5: null holders plus a lazy getter.
  fastify.decorateRequest(kResponse, null)
  fastify.decorateRequest(kGroup, null)
  fastify.decorateRequest('taskGroup', {
    getter(this: FastifyRequest): TaskGroup {
      const request = this as FastifyRequest & ScopedRequest
      if (request[kGroup] !== null) return request[kGroup]
      // Without the onRequest hook (a route outside the plugin's scope), there is no response.
      if (request[kResponse] === null) throw notInScope()
      const { config, handlerTimeout } = request.routeOptions
      const group = runtime.requestGroup(request.raw, request[kResponse], { logger: request.log, ...config?.concurrency })
      // Fastify's handlerTimeout (5.8+) aborts request.signal with FST_ERR_HANDLER_TIMEOUT: the
      // request's tasks end as timed out, not as stragglers. Any other abort of request.signal
      // is ignored (on Fastify 5.8–5.12 it also fires as soon as a body was read).
      if (handlerTimeout !== undefined && handlerTimeout > 0) {
        const { signal } = request
        const onTimeout = (): void => {
          if ((signal.reason as { code?: unknown } | undefined)?.code !== 'FST_ERR_HANDLER_TIMEOUT') return
          group.cancel(new TimeoutError(`The handler timed out after ${handlerTimeout} ms`, { cause: signal.reason }))
        }
        if (signal.aborted) onTimeout()
        else signal.addEventListener('abort', onTimeout, { once: true })
      }
      return (request[kGroup] = group)
    },
  })

  // A route's config.concurrency is checked when the route is added, not at its first request.
  fastify.addHook('onRoute', function checkRouteConfig({ config, method, url }) {
    const options = (config as { concurrency?: RouteConcurrencyConfig } | undefined)?.concurrency
    try {
      if (options !== undefined) new TaskGroup(options).cancel() // the request group's own validation
    } catch (error) {
      ;(error as Error).message = `Route ${String(method)} ${url}, config.concurrency: ${(error as Error).message}`
      throw error
    }
  })

  // Fastify's Request has no way to its response: keep `reply.raw` for the getter.
  fastify.addHook('onRequest', function storeResponse(request, reply, done) {
    ;(request as FastifyRequest & ScopedRequest)[kResponse] = reply.raw
    done()
  })

  // An escaped cancellation answers its own status (499 client closed request, 503 shutdown...),
  // so that Fastify's default error handler logs it at info rather than as a 500 error. Node's
  // AbortError (ABORT_ERR) has no status of its own: 499, or its cause's.
  fastify.addHook('onError', function quietCancellation(request, reply, error, done) {
    const status = cancellationStatus(error)
    if (status !== undefined && !reply.raw.headersSent) reply.code(status)
    done()
  })

  // While draining, HTTP/1 responses close their connection: otherwise a keep-alive connection
  // that was busy when close() began holds `fastify.close()` open until keepAliveTimeout.
  fastify.addHook('onSend', function closeWhileDraining(request, reply, payload, done) {
    if (runtime.draining && request.raw.httpVersionMajor === 1) reply.header('connection', 'close')
    done(null, payload)
  })

  // Must resolve to nothing: a value would make fastify.close() reject with it.
  fastify.addHook('preClose', async function beginDrain() {
    runtime.drain()
  })
  fastify.addHook('onClose', async function closeRuntime() {
    await runtime.close()
  })
}

function notInScope(): Error {
  const error = new Error(
    'request.taskGroup is not available here: this route is outside the scope where @taskscope/fastify was registered (register it at the root)',
  ) as Error & { code: string }
  error.code = 'ERR_TASKSCOPE_NOT_REGISTERED'
  return error
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
