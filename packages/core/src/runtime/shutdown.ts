// The shutdown sequence of a Runtime, begun by `drain()` (or `close()`): refuse new background
// tasks, drain attached servers, wait for request groups until the deadline, cancel what is left
// with ShutdownError, force the servers' last connections after a grace, close the pool, and
// report what was cut short.
import { performance } from 'node:perf_hooks'
import { ShutdownError } from '../errors.js'
import { shutdownChannel } from '../internal/channels.js'
import { type Deferred, deferred } from '../internal/deferred.js'
import type { LinkedList } from '../internal/linked-list.js'
import type { BackgroundRegistry } from '../primitives/background-registry.js'
import type { BackgroundTask } from '../primitives/background-task.js'
import type { BackgroundShutdownReport, BackgroundTasks } from '../primitives/background-tasks.js'
import type { TaskGroup } from '../primitives/task-group.js'
import type { AppPool } from './app-pool.js'
import type { Http2ServerDrain } from './h2-server-drain.js'
import { log } from './logger.js'
import { registrySnapshot } from './observe.js'
import type { RequestRecord } from './request-record.js'
import type { Runtime } from './runtime.js'
import type { ServerDrain } from './server-drain.js'
import { mergeReports, runningBackgroundTasks, type UnfinishedWork, unfinishedMessage, unfinishedWork } from './shutdown-report.js'

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

/** @internal What of the runtime the shutdown drains: live by reference. */
export interface ShutdownScope {
  /** The live request groups. */
  requests: LinkedList<RequestRecord>
  /** The attached servers. */
  servers: ReadonlyMap<unknown, ServerDrain | Http2ServerDrain>
  pool: AppPool
  /** The app's background registry. */
  registry: BackgroundRegistry
  /** The runtime's own registry of closures, if it made one. */
  closureTasks: BackgroundTasks | undefined
}

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

/** What a registry's shutdown may take beyond `timeout + grace` (closing its store's connections). */
const registryCloseMs = 1000

/**
 * The registry's shutdown, bounded: a registry must settle within timeout + grace + 1 s whatever
 * its store does; past that (and one more second), the runtime stops waiting, counts the tasks
 * still running here as abandoned and says so. A registry whose shutdown throws or rejects is
 * reported the same way; nothing is left unhandled.
 */
async function boundedShutdown(
  registry: BackgroundRegistry,
  phase: { timeout: number; grace: number },
  runtime: Runtime,
): Promise<BackgroundShutdownReport> {
  let report: Promise<BackgroundShutdownReport>
  try {
    report = Promise.resolve(registry.shutdown(phase))
  } catch (error) {
    report = Promise.reject(error)
  }
  let failure: unknown
  const answered = report.then(
    () => true,
    (error) => {
      failure = error
      return false
    },
  )
  const bound = phase.timeout === maxDelay ? Infinity : phase.timeout + phase.grace + 2 * registryCloseMs
  const inTime = await within(answered, bound)
  if (inTime && failure === undefined) return report
  const abandoned = registrySnapshot(registry).running.length
  const why = inTime ? 'its shutdown failed' : `its shutdown did not settle within ${bound} ms`
  log(runtime.logger, 'error', { err: failure, abandoned }, `background registry: ${why}; tasks still running here are abandoned`)
  return { completed: 0, failed: 0, cancelled: 0, abandoned }
}

/** @internal One runtime's shutdown, made when it begins. */
export class Shutdown {
  #runtime: Runtime
  #scope: ShutdownScope
  #expired = false // past the deadline, or closed: new groups start cancelled
  #idle: Deferred<void> | undefined
  #cancelled = 0
  #cut: TaskGroup[] = [] // groups cancelled at the deadline
  #running: BackgroundTask[] | undefined // background tasks running when the drain began
  #deadline: NodeJS.Timeout | undefined
  #drainStart = performance.now()
  #limit: number
  #grace: number
  #requestsPhase: Promise<number>
  #backgroundPhase: Promise<BackgroundShutdownReport>

  /** Begins: `limit` is the shutdown timeout (ms; Infinity waits as long as it takes). */
  constructor(runtime: Runtime, limit: number, scope: ShutdownScope) {
    this.#runtime = runtime
    this.#scope = scope
    this.#limit = limit
    this.#grace = Math.min(graceMs, limit)
    const registry = scope.registry
    this.#running = runningBackgroundTasks(registry)
    const phase = { timeout: Math.min(limit, maxDelay), grace: this.#grace }
    this.#backgroundPhase = boundedShutdown(registry, phase, runtime)
    const local = scope.closureTasks
    if (local !== undefined) {
      this.#running?.push(...(runningBackgroundTasks(local) ?? []))
      this.#backgroundPhase = Promise.all([this.#backgroundPhase, local.shutdown(phase)]).then(([app, own]) => mergeReports(app, own))
    }
    for (const drain of scope.servers.values()) drain.begin()
    // Also for groups created after the wait below ended (Fastify still serves until onClose).
    if (limit !== Infinity) this.#deadline = setTimeout(() => this.#expire(), limit).unref()
    this.#requestsPhase = this.#drainRequests(limit)
  }

  /** True past the deadline, or once closed: new request groups start cancelled. */
  get expired(): boolean {
    return this.#expired
  }

  /** The last live request group ended. */
  requestsEnded(): void {
    this.#idle?.resolve()
    this.#idle = undefined
  }

  /** Waits for the phases, closes the pool, and reports (and logs) the summary. */
  async close(): Promise<RuntimeCloseSummary> {
    const { requests: live, pool: appPool } = this.#scope
    const inFlight = await this.#requestsPhase
    const background = await this.#backgroundPhase
    const remaining = this.#limit - (performance.now() - this.#drainStart)
    const pool = await appPool.close(Math.max(this.#grace, Math.min(remaining, maxDelay)), this.#runtime.logger)
    clearTimeout(this.#deadline)
    this.#expired = true
    const requests = { inFlight, cancelled: this.#cancelled, abandoned: live.size }
    const durationMs = Math.round(performance.now() - this.#drainStart)
    const unfinished = unfinishedWork(this.#cut, new Set(Array.from(live, ({ group }) => group)), this.#running ?? [])
    this.#cut = []
    const summary: RuntimeCloseSummary = { durationMs, requests, background, pool, unfinished }
    // A registry that cannot list its tasks: only its counts tell what shutdown cut short.
    const unnamed = this.#running === undefined ? background.cancelled + background.abandoned : 0
    const logger = this.#runtime.logger
    if (unfinished.length + unnamed > 0) log(logger, 'warn', summary, unfinishedMessage(unfinished, unnamed))
    else log(logger, 'info', summary, 'shut down cleanly')
    if (shutdownChannel.hasSubscribers) shutdownChannel.publish({ ...summary, runtime: this.#runtime })
    return summary
  }

  /** Waits for request groups and attached servers until the deadline, then cancels and forces. */
  async #drainRequests(timeout: number): Promise<number> {
    const inFlight = this.#scope.requests.size
    if (await within(this.#quiet(), timeout)) return inFlight
    this.#expire()
    if (!(await within(this.#quiet(), this.#grace))) {
      for (const drain of this.#scope.servers.values()) drain.force()
      await within(this.#quiet(), this.#grace)
    }
    return inFlight
  }

  /** The deadline: every live group is cancelled with ShutdownError; later ones start cancelled. */
  #expire(): void {
    this.#expired = true
    const live = Array.from(this.#scope.requests, ({ group }) => group).filter((group) => !group.cancelled)
    for (const group of live) group.cancel(new ShutdownError('The request did not complete before the shutdown deadline'))
    this.#cancelled += live.length
    this.#cut.push(...live)
    if (live.length > 0) log(this.#runtime.logger, 'warn', { requests: live.length }, 'shutdown deadline passed: request tasks cancelled')
  }

  /** Resolves once no request group is alive and every attached server has closed. */
  #quiet(): Promise<unknown> {
    if (this.#scope.requests.size > 0) this.#idle ??= deferred()
    return Promise.all([this.#idle?.promise, ...[...this.#scope.servers.values()].map((drain) => drain.closed)])
  }
}
