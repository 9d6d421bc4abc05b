import { ShutdownError } from '../errors.js'
import { LinkedList } from '../internal/linked-list.js'
import { kClosureTasks, kCreate, kRequestGroup, kToken } from '../internal/symbols.js'
import { copyOptions, hasMethods, illegalConstructor, invalidType, validateLimit } from '../internal/validation.js'
import type { BackgroundRegistry } from '../primitives/background-registry.js'
import { BackgroundTasks, type BackgroundTasksOptions } from '../primitives/background-tasks.js'
import type { RegisteredBackgroundTasks } from '../primitives/register.js'
import { TaskGroup } from '../primitives/task-group.js'
import type { Threadpool } from '../threadpool/threadpool.js'
import type { ThreadpoolOptions } from '../threadpool/types.js'
import { AppPool } from './app-pool.js'
import { defaultLogger, log, type RuntimeLogger, validateLogger } from './logger.js'
import { backgroundStats, eventLoopStats, inspectTree, RequestTotals, type RuntimeInspection, type RuntimeStats } from './observe.js'
import { type RequestOwner, RequestRecord } from './request-record.js'
import type { HttpRequest, HttpResponse } from './response-lifecycle.js'
import { type DrainableServer, drainFor } from './server-drain.js'

type Scoped = { [kRequestGroup]?: TaskGroup }

import { type RuntimeCloseSummary, Shutdown } from './shutdown.js'

export type { RuntimeStats } from './observe.js'
export type { RuntimeCloseSummary } from './shutdown.js'

/** Options of {@link createRuntime} (and of every adapter). */
export interface RuntimeOptions {
  /**
   * The worker pool. Default: the process-wide shared pool (`getThreadpool()`, the one
   * `runInThreadpool` uses), started on first use and closed on shutdown. Options: a pool of the
   * runtime's own with those options, created on first use of `runtime.threadpool` and closed on
   * shutdown. An existing {@link Threadpool}: used as is and left open (its owner closes it).
   */
  threadpool?: Threadpool | ThreadpoolOptions
  /**
   * The app's background tasks: a {@link BackgroundTasks}, its options, or another
   * {@link BackgroundRegistry} (`BullmqBackgroundTasks` from `@taskscope/bullmq`, for durable jobs
   * on many machines). Either way `close()` shuts it down. Default: a new registry whose failures
   * are logged at error. `runtime.backgroundTasks` is the object passed, typed as the registry
   * declared in {@link Register} (the embedded one by default).
   */
  backgroundTasks?: BackgroundTasks | BackgroundRegistry | BackgroundTasksOptions
  /**
   * Milliseconds that in-flight requests and background tasks get on shutdown before they are
   * cancelled with {@link ShutdownError}. Keep it below your process manager's hard stop
   * (close-with-grace: 10 s; Kubernetes: 30 s): up to 3 × 1 s of grace can follow it.
   * @default 5000
   */
  shutdownTimeout?: number
  /** Where the runtime logs (pino-compatible). Default: warnings and errors to the console. */
  logger?: RuntimeLogger
}

/** Options of {@link Runtime.requestGroup}. */
export interface RequestGroupOptions {
  /** The request's logger (Fastify's `request.log`, pino-http's `req.log`). Default: the runtime's. */
  logger?: RuntimeLogger
  /** Receives the `TaskGroupError` of failures nobody observed, instead of logging it at error. */
  onError?: (error: unknown) => void
  /** The group's `limit`: at most this many of the request's tasks run at once (see TaskGroupOptions). */
  limit?: number
  /** The group's `timeout` (ms): past it the request's tasks are cancelled with a TimeoutError (504). */
  timeout?: number
}

/** Options of {@link Runtime.close} and {@link Runtime.drain}. */
export interface RuntimeCloseOptions {
  /** Overrides `shutdownTimeout` for this shutdown (ms; Infinity waits as long as it takes). */
  timeout?: number
}

/**
 * The framework-agnostic HTTP runtime behind every adapter, one per app: it owns the app's
 * worker pool (created on first use) and background tasks, gives each request a
 * {@link TaskGroup} on first use, and shuts everything down in order. Made by {@link createRuntime}.
 *
 * @example
 * ```ts
 * const runtime = createRuntime({ shutdownTimeout: 5_000 })
 * const server = http.createServer(async (req, res) => {
 *   const group = runtime.requestGroup(req, res)
 *   res.end(await group.createTask((signal) => fetch(upstream, { signal }).then((r) => r.text())))
 * })
 * runtime.attach(server.listen(3000))
 * process.once('SIGTERM', () => runtime.close())
 * ```
 */
export class Runtime {
  /** The runtime's logger. */
  readonly logger: RuntimeLogger
  /** Milliseconds given to in-flight work on shutdown. */
  readonly shutdownTimeout: number
  /**
   * The app's background tasks; `close()` shuts them down. Typed as the registry the app declared
   * in {@link Register} (the embedded {@link BackgroundTasks} by default).
   */
  get backgroundTasks(): RegisteredBackgroundTasks {
    // The app's declaration (Register) says which registry it passed: the one place it is taken on trust.
    return this.#registry as RegisteredBackgroundTasks
  }
  readonly #registry: BackgroundRegistry
  // Closures (`after`, `waitUntil`) cannot travel to a distributed registry: they run here.
  #closureTasks: BackgroundTasks | undefined
  #pool: AppPool
  #live = new LinkedList<RequestRecord>()
  #owner: RequestOwner = {
    requestEnded: (record, disconnected, stragglers) => {
      this.#live.delete(record)
      this.#totals.ended(record.group, disconnected, stragglers)
      if (this.#live.size === 0) this.#shutdown?.requestsEnded()
    },
  }
  #totals = new RequestTotals()
  #servers = new Map<DrainableServer, ReturnType<typeof drainFor>>()
  #draining = false
  #shutdown: Shutdown | undefined // made when shutdown begins
  #closing: Promise<RuntimeCloseSummary> | undefined

  /** @internal Made by {@link createRuntime}. */
  static [kCreate](options?: RuntimeOptions): Runtime {
    return new Runtime(kToken, options)
  }

  private constructor(token: typeof kToken, options?: RuntimeOptions) {
    if (token !== kToken) throw illegalConstructor('Runtime', 'createRuntime()')
    const opts = copyOptions(options, 'The runtime options')
    this.logger = validateLogger(opts.logger, 'The "logger" option') ?? defaultLogger
    this.shutdownTimeout = validateLimit(opts.shutdownTimeout, 'The "shutdownTimeout" option') ?? 5000
    this.#registry = this.#toRegistry(opts.backgroundTasks)
    this.#pool = new AppPool(opts.threadpool)
  }

  /**
   * The app's pool, started on first read: by default the process-wide shared pool (so
   * `runInThreadpool` in a handler uses the same threads). After shutdown: the closed pool.
   */
  get threadpool(): Threadpool {
    return this.#pool.get()
  }

  /** True once shutdown began (`drain()` or `close()`). */
  get draining(): boolean {
    return this.#draining
  }

  /**
   * The request's {@link TaskGroup}, created on first use, the same on every later call for
   * this response. Its signal aborts with `ClientDisconnectedError` when the client goes away
   * before the response completes (logged at info). When the response completes, tasks still
   * running are cancelled with `RequestFinishedError` (logged at warn) and the group is closed;
   * failures nobody observed are logged at error through `options.logger` (or go to
   * `options.onError`). Past the shutdown deadline, groups start cancelled with `ShutdownError`.
   * Throws a TypeError (`ERR_INVALID_ARG_TYPE`) naming the option when `options.logger` is not a
   * logger or `options.onError` not a function, and a TypeError/RangeError for a bad `limit` or
   * `timeout`.
   *
   * @example
   * ```ts
   * const group = runtime.requestGroup(req, res, { logger: request.log })
   * const [user, posts] = await Promise.all([group.createTask(getUser), group.createTask(getPosts)])
   * ```
   */
  requestGroup(req: HttpRequest, res: HttpResponse, options?: RequestGroupOptions): TaskGroup {
    if (options !== undefined) checkRequestGroupOptions(options)
    const existing = (res as Scoped)[kRequestGroup]
    if (existing !== undefined) return existing
    const group = new TaskGroup({ name: `${req.method} ${req.url}`, limit: options?.limit, timeout: options?.timeout })
    ;(res as Scoped)[kRequestGroup] = group
    const record = new RequestRecord(group, req, res, options?.logger ?? this.logger, options?.onError, this.#owner)
    this.#live.add(record)
    if (this.#shutdown?.expired) group.cancel(new ShutdownError())
    record.watch()
    return group
  }

  /**
   * A snapshot of what the runtime is doing, with totals since it was created. The first call
   * starts measuring the event loop (`perf_hooks.monitorEventLoopDelay`, which never keeps the
   * process alive).
   *
   * @example
   * ```ts
   * const { requests, eventLoop } = runtime.stats()
   * metrics.gauge('requests.cancelled_by_disconnect', requests.cancelledByDisconnect)
   * if (eventLoop.delay.p99 > 100) log.warn('event loop lagging')
   * ```
   */
  stats(): RuntimeStats {
    const pool = this.#pool.stats()
    const requests = this.#totals.snapshot(this.#live.size)
    const background = backgroundStats(this.#registry, this.#closureTasks)
    return { requests, background, pool, eventLoop: eventLoopStats(), draining: this.#draining }
  }

  /**
   * The live tree, as plain JSON: each request whose task group is alive (method, url, age, its
   * tasks not settled yet with name, status and age) and each background task running.
   *
   * @example
   * ```ts
   * app.get('/debug/tasks', () => runtime.inspect())
   * // { requests: [{ method: 'GET', url: '/dashboard', ageMs: 412, cancelled: false,
   * //   tasks: [{ name: 'user', status: 'running', ageMs: 410 }] }], background: [] }
   * ```
   */
  inspect(): RuntimeInspection {
    return inspectTree(this.#live, this.#registry, this.#closureTasks)
  }

  /**
   * @internal The registry that runs a request's closures (`after`, `waitUntil`): the app's own
   * when it is embedded; else (a distributed registry, which only takes `defineTask` tasks) a
   * small embedded one of the runtime's, drained on shutdown with the rest.
   */
  [kClosureTasks](): BackgroundTasks {
    if (this.#registry instanceof BackgroundTasks) return this.#registry
    return (this.#closureTasks ??= this.#embedded(undefined))
  }

  /**
   * Ties a node:http(s) or node:http2 `server` to shutdown, so that no client can hold the shutdown
   * past the deadline and a grace. Over HTTP/1 it stops accepting connections, in-flight responses
   * carry `Connection: close`, requests still arriving on open keep-alive connections get 503 +
   * `Retry-After` without reaching the app (the server emits `'dropRequest'` for each; its
   * `'request'` listeners are left in place), and once the deadline and a grace have passed every
   * connection still open is closed. Over HTTP/2 it stops accepting connections, sends every session
   * a GOAWAY (streams in flight may finish, no new one starts), and once the deadline and a grace
   * have passed destroys every session still open. Nothing is kept per response, connection or
   * session once it has closed. Call it before `close()`; returns the server. Throws a TypeError
   * (`ERR_INVALID_ARG_TYPE`) for anything else.
   *
   * @example
   * ```ts
   * runtime.attach(app.listen(3000))
   * runtime.attach(http2.createServer(koa.callback()).listen(3000))
   * ```
   */
  attach<S extends DrainableServer>(server: S): S {
    if (!this.#servers.has(server)) {
      const drain = drainFor(server)
      this.#servers.set(server, drain)
      if (this.#draining) drain.begin()
    }
    return server
  }

  /**
   * Begins shutdown without waiting (Fastify's `preClose` calls it): marks the runtime draining,
   * refuses new background tasks at once, starts draining attached servers, and arms the
   * deadline at which request groups still alive are cancelled with `ShutdownError`. Idempotent
   * (a later `timeout` is ignored); `close()` calls it. Throws a TypeError/RangeError for an
   * invalid `timeout`.
   */
  drain(options?: RuntimeCloseOptions): void {
    const timeout = validateLimit(copyOptions(options, 'The close options').timeout, 'The "timeout" option')
    if (this.#draining) return
    this.#draining = true
    const scope = {
      requests: this.#live,
      servers: this.#servers,
      pool: this.#pool,
      registry: this.#registry,
      closureTasks: this.#closureTasks,
    }
    this.#shutdown = new Shutdown(this, timeout ?? this.shutdownTimeout, scope)
  }

  /**
   * Shuts down gracefully and resolves with a summary (also logged): refuses new background
   * tasks at once; lets in-flight requests finish and background tasks drain until the timeout
   * (`shutdownTimeout`, 5 s by default); cancels leftovers with `ShutdownError`, closes attached
   * servers' last connections, closes the pool if the runtime started it. Idempotent: every call
   * returns the same promise. Installs no signal handlers: call it from yours. Rejects with a
   * TypeError/RangeError for an invalid `timeout`.
   *
   * @example
   * ```ts
   * process.once('SIGTERM', async () => { await runtime.close(); process.exit(0) })
   * ```
   */
  close(options?: RuntimeCloseOptions): Promise<RuntimeCloseSummary> {
    if (this.#closing !== undefined) return this.#closing
    try {
      this.drain(options)
    } catch (error) {
      return Promise.reject(error)
    }
    return (this.#closing = this.#shutdown!.close())
  }

  /** A registry given (embedded or another engine implementing BackgroundRegistry), or options for an embedded one. */
  #toRegistry(value: RuntimeOptions['backgroundTasks']): BackgroundRegistry {
    if (value instanceof BackgroundTasks || isRegistry(value)) return value
    return this.#embedded(value)
  }

  #embedded(value: BackgroundTasksOptions | undefined): BackgroundTasks {
    const opts = copyOptions(value, 'The "backgroundTasks" option')
    const logger = this.logger
    const onError: BackgroundTasksOptions['onError'] = (error, task) =>
      log(logger, 'error', { err: error, task: { id: task.id, name: task.name } }, 'background task failed')
    return new BackgroundTasks({ ...opts, onError: opts.onError ?? onError })
  }
}

/** A registry rather than options: every member of {@link BackgroundRegistry} a registry calls is a function. */
function isRegistry(value: BackgroundRegistry | BackgroundTasksOptions | undefined): value is BackgroundRegistry {
  return hasMethods(value, ['add', 'shutdown', 'snapshot'])
}

/** Per request, so only typeof checks, and only for what was given (`limit`/`timeout`: TaskGroup's own). */
function checkRequestGroupOptions(options: RequestGroupOptions): void {
  if (typeof options !== 'object' || options === null) throw invalidType('The requestGroup options', 'an object', options)
  const { logger, onError } = options
  if (logger !== undefined) validateLogger(logger, 'The "logger" option of requestGroup')
  if (onError !== undefined && typeof onError !== 'function') {
    throw invalidType('The "onError" option of requestGroup', 'a function', onError)
  }
}

/**
 * Creates the HTTP runtime of an app (see {@link Runtime}). Options are validated now: a
 * TypeError/RangeError (code `ERR_INVALID_ARG_TYPE`/`ERR_OUT_OF_RANGE`) names the option and
 * shows the value. The caller's options are never modified.
 *
 * @example
 * ```ts
 * const runtime = createRuntime({ threadpool: { maxThreads: 4 }, shutdownTimeout: 5_000, logger: pino() })
 * ```
 */
export function createRuntime(options?: RuntimeOptions): Runtime {
  return Runtime[kCreate](options)
}
