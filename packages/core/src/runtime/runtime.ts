import { performance } from 'node:perf_hooks'
import type { BackgroundRegistry } from '../primitives/background-registry.js'
import { type BackgroundShutdownReport, BackgroundTasks, type BackgroundTasksOptions } from '../primitives/background-tasks.js'
import { ShutdownError } from '../errors.js'
import { deferred, type Deferred } from '../internal/deferred.js'
import { kCancelKind, kClosureTasks, kCreate, kOutcomes, kToken } from '../internal/symbols.js'
import { shutdownChannel } from '../internal/channels.js'
import { copyOptions, hasMethods, illegalConstructor, invalidType, validateLimit } from '../internal/validation.js'
import { defaultLogger, log, type RuntimeLogger, validateLogger } from './logger.js'
import { bindRequestGroup, type HttpRequest, type HttpResponse } from './response-lifecycle.js'
import { type DrainableServer, ServerDrain } from './server-drain.js'
import { eventLoopStats, type EventLoopStats, inspectTree, type RequestRecord, type RuntimeInspection } from './observe.js'
import { mergeReports, runningBackgroundTasks, type UnfinishedWork, unfinishedMessage, unfinishedWork } from './shutdown-report.js'
import type { BackgroundTask } from '../primitives/background-task.js'
import { TaskGroup } from '../primitives/task-group.js'
import { getThreadpool, startedSharedThreadpool } from '../threadpool/shared-threadpool.js'
import { Threadpool } from '../threadpool/threadpool.js'
import type { ThreadpoolOptions, ThreadpoolStats } from '../threadpool/types.js'

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
   * The app's background tasks: a {@link BackgroundTasks}, its options, or another registry with
   * the same calls (`BullmqBackgroundTasks` from `@taskscope/bullmq`, for durable jobs on many
   * machines). Either way `close()` shuts it down. Default: a new registry whose failures are
   * logged at error. `runtime.backgroundTasks` is the object passed (typed as the embedded
   * registry: keep your own reference to a distributed one for its own methods).
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
 * A snapshot from {@link Runtime.stats}. Totals count since the runtime was created, and only
 * requests that used their task group (a group is created on first use).
 */
export interface RuntimeStats {
  requests: {
    /** Requests whose task group is alive. */
    active: number
    /** Requests whose response completed and whose group then closed. */
    served: number
    /** Groups cancelled because the client went away before the response completed. */
    cancelledByDisconnect: number
    /** Groups cancelled by their `timeout`. */
    cancelledByTimeout: number
    /** Tasks still running when their response completed, cancelled then. */
    stragglersCancelled: number
  }
  /**
   * `active`: background tasks running; then how many ended, by outcome (counted by the embedded
   * {@link BackgroundTasks}; always 0 for another registry).
   */
  background: { active: number; fulfilled: number; rejected: number; cancelled: number }
  /**
   * The pool's stats (its `completed`, `failed` and `cancelled` count since the pool started); all
   * zero (and no thread started to report them) until the pool is first used.
   */
  pool: ThreadpoolStats
  /** Event-loop delay and utilisation, measured from the first `stats()` call in this process. */
  eventLoop: EventLoopStats
  /** True once shutdown began. */
  draining: boolean
}

/**
 * What {@link Runtime.close} did; also logged: at warn, naming it, when the shutdown cut work short
 * (`unfinished` is not empty), else at info.
 */
export interface RuntimeCloseSummary {
  /** From the start of shutdown to its end. */
  durationMs: number
  /** Request groups alive when shutdown began; cancelled at the deadline; still running after the grace. */
  requests: { inFlight: number; cancelled: number; abandoned: number }
  /** The background registry's report. */
  background: BackgroundShutdownReport
  /** `'closed'`, `'not-started'` (never used), or `'external'` (the caller's pool, left open). */
  pool: 'closed' | 'not-started' | 'external'
  /**
   * The work the shutdown cut short, by name: requests and background tasks it cancelled at the
   * deadline, and those still running after the grace. Tasks the app cancelled itself while
   * shutting down are not in it (they count in `background.cancelled`). Empty after a clean shutdown.
   */
  unfinished: UnfinishedWork[]
}

/** `stats().pool` before the pool was ever used: reading it must not start threads. */
const idle = Object.freeze({ count: 0, mean: 0, p50: 0, p90: 0, p99: 0, max: 0 })
const idlePoolStats: ThreadpoolStats = Object.freeze({
  threads: 0,
  running: 0,
  queued: 0,
  completed: 0,
  failed: 0,
  cancelled: 0,
  runTime: idle,
  waitTime: idle,
})

/** How long cancelled work gets to settle after each shutdown step, at most. */
const graceMs = 1000
/** The largest delay `setTimeout` honours. */
const maxDelay = 2 ** 31 - 1

/** True when `promise` settles within `ms` (Infinity: whenever it does); never keeps the process alive. */
async function within(promise: Promise<unknown>, ms: number): Promise<boolean> {
  let timer: NodeJS.Timeout | undefined
  const late = new Promise<boolean>((resolve) => {
    if (ms !== Infinity) timer = setTimeout(resolve, ms, false).unref()
  })
  try {
    return await Promise.race([promise.then(() => true), late])
  } finally {
    clearTimeout(timer)
  }
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
  /** The app's background tasks; `close()` shuts them down. */
  readonly backgroundTasks: BackgroundTasks
  // Closures (`after`, `waitUntil`) cannot travel to a distributed registry: they run here.
  #closureTasks: BackgroundTasks | undefined
  #pool: Threadpool | undefined
  #poolOptions: ThreadpoolOptions | 'shared' | undefined // undefined: the caller's pool
  #poolClosed = false
  #groups = new WeakMap<HttpResponse, TaskGroup>()
  #live = new Map<TaskGroup, RequestRecord>()
  #served = 0
  #disconnected = 0
  #timedOut = 0
  #stragglers = 0
  #idle: Deferred<void> | undefined
  #servers = new Map<DrainableServer, ServerDrain>()
  #draining = false
  #expired = false // past the deadline, or closed: new groups start cancelled
  #cancelled = 0
  #cut: TaskGroup[] = [] // groups cancelled at the deadline
  #running: BackgroundTask[] | undefined // background tasks running when the drain began
  #deadline: NodeJS.Timeout | undefined
  #drainStart = 0
  #limit = 0
  #grace = graceMs
  #requestsPhase: Promise<number> | undefined
  #backgroundPhase: Promise<BackgroundShutdownReport> | undefined
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
    this.backgroundTasks = this.#toBackgroundTasks(opts.backgroundTasks)
    if (isPool(opts.threadpool)) this.#pool = opts.threadpool
    else if (opts.threadpool === undefined) this.#poolOptions = 'shared'
    else this.#poolOptions = Threadpool.validateOptions(opts.threadpool, 'The "threadpool" option')
  }

  /**
   * The app's pool, started on first read: by default the process-wide shared pool (so
   * `runInThreadpool` in a handler uses the same threads). After shutdown: the closed pool.
   */
  get threadpool(): Threadpool {
    const shared = this.#poolOptions === 'shared'
    // Another app in this process may have closed the shared pool: take the fresh one.
    if (this.#pool === undefined || (shared && this.#pool.closed && !this.#poolClosed)) {
      this.#pool = shared ? getThreadpool() : new Threadpool(this.#poolOptions as ThreadpoolOptions | undefined)
      if (this.#poolClosed) void this.#pool.destroy()
    }
    return this.#pool
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
    const existing = this.#groups.get(res)
    if (existing !== undefined) return existing
    const group = new TaskGroup({ name: `${req.method} ${req.url}`, limit: options?.limit, timeout: options?.timeout })
    this.#groups.set(res, group)
    this.#live.set(group, { method: req.method ?? '', url: req.url ?? '', startedAt: performance.now() })
    if (this.#expired) group.cancel(new ShutdownError())
    bindRequestGroup(group, req, res, {
      logger: options?.logger ?? this.logger,
      onError: options?.onError,
      ended: (disconnected, stragglers) => {
        this.#live.delete(group)
        if (disconnected) this.#disconnected++
        else this.#served++
        if (group[kCancelKind] === 'timeout') this.#timedOut++
        this.#stragglers += stragglers
        if (this.#live.size > 0 || this.#idle === undefined) return
        this.#idle.resolve()
        this.#idle = undefined
      },
    })
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
    const pool = this.#startedPool()?.stats() ?? idlePoolStats
    const requests = {
      active: this.#live.size,
      served: this.#served,
      cancelledByDisconnect: this.#disconnected,
      cancelledByTimeout: this.#timedOut,
      stragglersCancelled: this.#stragglers,
    }
    const outcomes = (this.backgroundTasks as Partial<BackgroundTasks>)[kOutcomes] ?? { fulfilled: 0, rejected: 0, cancelled: 0 }
    const background = { active: this.backgroundTasks.active + (this.#closureTasks?.active ?? 0), ...outcomes }
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
    return inspectTree(this.#live, this.backgroundTasks)
  }

  /**
   * @internal The registry that runs a request's closures (`after`, `waitUntil`): the app's own
   * when it is embedded; else (a distributed registry, which only takes `defineTask` tasks) a
   * small embedded one of the runtime's, drained on shutdown with the rest.
   */
  [kClosureTasks](): BackgroundTasks {
    if (this.backgroundTasks instanceof BackgroundTasks) return this.backgroundTasks
    return (this.#closureTasks ??= this.#toBackgroundTasks(undefined))
  }

  /**
   * Ties a node:http(s) `server` to shutdown: then it stops accepting connections, in-flight
   * responses carry `Connection: close`, requests still arriving on open keep-alive connections
   * get 503 + `Retry-After` without reaching the app (the server emits `'dropRequest'` for each;
   * its `'request'` listeners are left in place), and once the deadline and a grace have passed
   * every connection still open is closed, so no client can hold the shutdown. Nothing is kept
   * per response once it or its connection has closed. Call it before `close()`; returns the
   * server. Throws a TypeError for anything else.
   *
   * @example
   * ```ts
   * runtime.attach(app.listen(3000))
   * ```
   */
  attach<S extends DrainableServer>(server: S): S {
    if (!this.#servers.has(server)) {
      const drain = new ServerDrain(server)
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
    const limit = timeout ?? this.shutdownTimeout
    this.#draining = true
    this.#limit = limit
    this.#drainStart = performance.now()
    this.#grace = Math.min(graceMs, limit)
    this.#running = runningBackgroundTasks(this.backgroundTasks)
    const phase = { timeout: Math.min(limit, maxDelay), grace: this.#grace }
    this.#backgroundPhase = this.backgroundTasks.shutdown(phase)
    const local = this.#closureTasks
    if (local !== undefined) {
      this.#running?.push(...(runningBackgroundTasks(local) ?? []))
      this.#backgroundPhase = Promise.all([this.#backgroundPhase, local.shutdown(phase)]).then(([app, own]) => mergeReports(app, own))
    }
    for (const drain of this.#servers.values()) drain.begin()
    // Also for groups created after the wait below ended (Fastify still serves until onClose).
    if (limit !== Infinity) this.#deadline = setTimeout(() => this.#expire(), limit).unref()
    this.#requestsPhase = this.#drainRequests(limit)
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
    return (this.#closing = this.#close())
  }

  async #close(): Promise<RuntimeCloseSummary> {
    const inFlight = await this.#requestsPhase!
    const background = await this.#backgroundPhase!
    const pool = await this.#closePool()
    clearTimeout(this.#deadline)
    this.#expired = true
    const requests = { inFlight, cancelled: this.#cancelled, abandoned: this.#live.size }
    const durationMs = Math.round(performance.now() - this.#drainStart)
    const unfinished = unfinishedWork(this.#cut, new Set(this.#live.keys()), this.#running ?? [])
    this.#cut = []
    const summary: RuntimeCloseSummary = { durationMs, requests, background, pool, unfinished }
    // A registry that cannot list its tasks: only its counts tell what shutdown cut short.
    const unnamed = this.#running === undefined ? background.cancelled + background.abandoned : 0
    if (unfinished.length + unnamed > 0) log(this.logger, 'warn', summary, unfinishedMessage(unfinished, unnamed))
    else log(this.logger, 'info', summary, 'shut down cleanly')
    if (shutdownChannel.hasSubscribers) shutdownChannel.publish({ ...summary, runtime: this })
    return summary
  }

  /** Waits for request groups and attached servers until the deadline, then cancels and forces. */
  async #drainRequests(timeout: number): Promise<number> {
    const inFlight = this.#live.size
    if (await within(this.#quiet(), timeout)) return inFlight
    this.#expire()
    if (!(await within(this.#quiet(), this.#grace))) {
      for (const drain of this.#servers.values()) drain.force()
      await within(this.#quiet(), this.#grace)
    }
    return inFlight
  }

  /** The deadline: every live group is cancelled with ShutdownError; later ones start cancelled. */
  #expire(): void {
    this.#expired = true
    const live = [...this.#live.keys()].filter((group) => !group.cancelled)
    for (const group of live) group.cancel(new ShutdownError('The request did not complete before the shutdown deadline'))
    this.#cancelled += live.length
    this.#cut.push(...live)
    if (live.length > 0) log(this.logger, 'warn', { requests: live.length }, 'shutdown deadline passed: request tasks cancelled')
  }

  /** Resolves once no request group is alive and every attached server has closed. */
  #quiet(): Promise<unknown> {
    if (this.#live.size > 0) this.#idle ??= deferred()
    return Promise.all([this.#idle?.promise, ...[...this.#servers.values()].map((drain) => drain.closed)])
  }

  /** The app's pool if it was started: by default, the shared one, also when only `runInThreadpool` used it. */
  #startedPool(): Threadpool | undefined {
    if (this.#pool !== undefined && !(this.#poolOptions === 'shared' && this.#pool.closed && !this.#poolClosed)) return this.#pool
    return this.#poolOptions === 'shared' ? startedSharedThreadpool() : undefined
  }

  async #closePool(): Promise<RuntimeCloseSummary['pool']> {
    if (this.#poolOptions === undefined) return 'external'
    const pool = this.#startedPool()
    this.#poolClosed = true
    if (pool === undefined) return 'not-started'
    this.#pool = pool
    const remaining = this.#limit - (performance.now() - this.#drainStart)
    try {
      await pool.close({ timeout: Math.max(this.#grace, Math.min(remaining, maxDelay)) })
    } catch (error) {
      log(this.logger, 'error', { err: error }, 'closing the threadpool failed')
    }
    return 'closed'
  }

  #toBackgroundTasks(value: unknown): BackgroundTasks {
    if (value instanceof BackgroundTasks || hasMethods(value, ['add', 'shutdown'])) return value as BackgroundTasks
    const opts = copyOptions(value as BackgroundTasksOptions | undefined, 'The "backgroundTasks" option')
    const logger = this.logger
    const onError: BackgroundTasksOptions['onError'] = (error, task) =>
      log(logger, 'error', { err: error, task: { id: task.id, name: task.name } }, 'background task failed')
    return new BackgroundTasks({ ...opts, onError: opts.onError ?? onError })
  }
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

function isPool(value: unknown): value is Threadpool {
  return value instanceof Threadpool || hasMethods(value, ['run', 'stats', 'close', 'destroy'])
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
