// What `runtime.stats()` counts (request totals, background outcomes, event-loop delay and
// utilisation) and the shape of `runtime.inspect()`: the live tree of request groups, their tasks,
// and background tasks.
import { type EventLoopUtilization, type IntervalHistogram, monitorEventLoopDelay, performance } from 'node:perf_hooks'
import { kCancelKind, kLiveTasks, kStartedAt } from '../internal/symbols.js'
import type { BackgroundRegistry, BackgroundSnapshot } from '../primitives/background-registry.js'
import type { BackgroundTaskStatus } from '../primitives/background-task.js'
import type { TaskStatus } from '../primitives/task.js'
import type { TaskGroup } from '../primitives/task-group.js'
import type { ThreadpoolStats } from '../threadpool/types.js'
import type { RequestRecord } from './request-record.js'

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
   * `active`: background tasks running in this process; then how many of those ended, by outcome;
   * `store`: `'unavailable'` while the registry's store (Redis, for a distributed registry)
   * cannot be reached, or the registry could not answer.
   */
  background: { active: number; fulfilled: number; rejected: number; cancelled: number; store: 'available' | 'unavailable' }
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

/** Event-loop figures of {@link RuntimeStats}, since the first `stats()` call in this process. */
export interface EventLoopStats {
  /** How late the event loop ran its timers, in ms (p50, p99, max); all 0 until the first sample. */
  delay: { p50: number; p99: number; max: number }
  /** The share of time the event loop was busy, from 0 to 1. */
  utilization: number
}

/** A request in {@link RuntimeInspection}. */
export interface InspectedRequest {
  method: string
  url: string
  /** Milliseconds since its task group was created. */
  ageMs: number
  /** True once its group was cancelled (disconnect, timeout, failure, shutdown). */
  cancelled: boolean
  /** Its tasks not settled yet. */
  tasks: { name: string; status: TaskStatus; ageMs: number }[]
}

/** What {@link Runtime.inspect} returns: plain JSON. */
export interface RuntimeInspection {
  /** Each request whose task group is alive, oldest first. */
  requests: InspectedRequest[]
  /** Each background task running in this process. */
  background: { id: string; name: string; status: BackgroundTaskStatus; ageMs: number }[]
  /** `'unavailable'` while the background registry's store cannot be reached, or the registry could not answer. */
  backgroundStore: 'available' | 'unavailable'
}

/** @internal The request totals of `runtime.stats()`, counted as request groups end. */
export class RequestTotals {
  #served = 0
  #disconnected = 0
  #timedOut = 0
  #stragglers = 0

  /** A request group ended: its response completed, or its client went away first. */
  ended(group: TaskGroup, disconnected: boolean, stragglers: number): void {
    if (disconnected) this.#disconnected++
    else this.#served++
    if (group[kCancelKind] === 'timeout') this.#timedOut++
    this.#stragglers += stragglers
  }

  /** `stats().requests`, with `active` request groups. */
  snapshot(active: number): RuntimeStats['requests'] {
    return {
      active,
      served: this.#served,
      cancelledByDisconnect: this.#disconnected,
      cancelledByTimeout: this.#timedOut,
      stragglersCancelled: this.#stragglers,
    }
  }
}

/** @internal A registry's snapshot, whatever the registry does: one that throws or answers nonsense is `unavailable`. */
export function registrySnapshot(registry: BackgroundRegistry | undefined): BackgroundSnapshot {
  const empty: BackgroundSnapshot = { running: [], outcomes: { fulfilled: 0, rejected: 0, cancelled: 0 }, store: 'available' }
  if (registry === undefined) return empty
  try {
    const snapshot = registry.snapshot()
    if (Array.isArray(snapshot?.running) && typeof snapshot.outcomes === 'object' && snapshot.outcomes !== null) return snapshot
  } catch {
    // A registry that cannot answer: said in the result, never thrown from stats() or inspect().
  }
  return { ...empty, store: 'unavailable' }
}

/** @internal `stats().background`: tasks running in the app's registry and the runtime's own, and how they ended. */
export function backgroundStats(registry: BackgroundRegistry, closureTasks: BackgroundRegistry | undefined): RuntimeStats['background'] {
  const app = registrySnapshot(registry)
  const own = registrySnapshot(closureTasks)
  return {
    active: app.running.length + own.running.length,
    fulfilled: app.outcomes.fulfilled,
    rejected: app.outcomes.rejected,
    cancelled: app.outcomes.cancelled,
    store: app.store,
  }
}

// One monitor per process, started by the first `stats()`: the event loop is the process's.
let delay: IntervalHistogram | undefined
let busySince: EventLoopUtilization | undefined

/** @internal The event-loop figures; the first call starts measuring (its timer never keeps the process alive). */
export function eventLoopStats(): EventLoopStats {
  if (delay === undefined) {
    delay = monitorEventLoopDelay()
    delay.enable()
    busySince = performance.eventLoopUtilization()
  }
  const ms = (ns: number): number => Math.round(ns / 1e4) / 100
  const sampled = delay.count > 0
  return {
    delay: sampled ? { p50: ms(delay.percentile(50)), p99: ms(delay.percentile(99)), max: ms(delay.max) } : { p50: 0, p99: 0, max: 0 },
    utilization: performance.eventLoopUtilization(busySince).utilization,
  }
}

/** @internal The live tree of `runtime.inspect()`. */
export function inspectTree(
  requests: Iterable<RequestRecord>,
  registry: BackgroundRegistry,
  closureTasks: BackgroundRegistry | undefined,
): RuntimeInspection {
  const now = performance.now()
  const age = (since: number): number => Math.round(now - since)
  const app = registrySnapshot(registry)
  const tree: RuntimeInspection = { requests: [], background: [], backgroundStore: app.store }
  for (const { group, method, url, startedAt } of requests) {
    const tasks = [...group[kLiveTasks]].map((task) => ({ name: task.name, status: task.status, ageMs: age(task[kStartedAt]) }))
    tree.requests.push({ method, url, ageMs: age(startedAt), cancelled: group.cancelled, tasks })
  }
  for (const { id, name, status, ageMs } of [...app.running, ...registrySnapshot(closureTasks).running]) {
    tree.background.push({ id, name, status, ageMs })
  }
  return tree
}
