// The side of a process that runs jobs: a BullMQ Worker whose processor calls the task's
// function with a signal of our own, cancellation requests from other processes (the store's
// messaging → `worker.cancelJob`), and the shutdown that returns unfinished jobs to the queue.
import { CancelledError, isCancellation, ShutdownError, type TaskDefinition } from '@taskscope/core'
import { validateTaskResult } from '@taskscope/core/adapter'
import { DelayedError, type Job, WaitingError, Worker } from 'bullmq'
import { within } from './bounded.js'
import type { JobMessage, Store } from './store.js'
import { cancelledFailure, toLogLine, toStoredResult, toWire } from './wire.js'

/** How long a job of a task this process does not define waits before another process may take it. */
const unknownTaskDelayMs = 1_000
/** How long a cancel request for a job that is not (yet) running here is remembered. */
const pendingCancelMs = 10_000

export interface RunnerSettings {
  queue: string
  prefix: string
  store: Store
  definitions: ReadonlyMap<string, TaskDefinition>
  concurrency: number
  workerName: string
  lockDuration?: number
  stalledInterval?: number
  maxStalledCount?: number
  /** A task failed here (after the attempt's error was recorded). */
  failed: (error: unknown, job: { id: string; name: string }) => void
  /** Redis trouble (lost connection, lock renewal failed): logged, never thrown. */
  trouble: (error: unknown) => void
}

/** What happened to the jobs that were running here when shutdown began. */
export interface RunnerReport {
  completed: number
  failed: number
  cancelled: number
  abandoned: number
  requeued: number
}

type Outcome = keyof RunnerReport

interface Run {
  readonly id: string
  /** When the job was added: tells this job from a later one that reuses its id. */
  readonly addedAt: number
  /** When it started here (Date.now()). */
  readonly startedAt: number
  readonly name: string
  readonly controller: AbortController
  shutdown: boolean
  outcome: Outcome | undefined
  readonly done: Promise<void>
}

export class Runner {
  readonly #settings: RunnerSettings
  readonly #worker: Worker
  readonly #unsubscribe: Promise<() => Promise<void>>
  readonly #running = new Map<string, Run>()
  readonly #pendingCancels = new Map<string, { reason: string | undefined; addedAt: number | undefined; timer: NodeJS.Timeout }>()
  // What our processor threw: a failure BullMQ reports that is not in here is one it made itself.
  readonly #thrown = new WeakSet<object>()
  #finished = new Set<Run>() // runs that ended during shutdown, to count
  #counting = false
  // Shutdown began: a job BullMQ's fetch still hands us goes straight back to the queue, unrun.
  #stopping = false
  /** How the jobs that ran here ended (a job handed back at shutdown is not among them). */
  readonly outcomes = { fulfilled: 0, rejected: 0, cancelled: 0 }

  constructor(settings: RunnerSettings) {
    this.#settings = settings
    const { queue, prefix, store, concurrency } = settings
    this.#worker = new Worker(
      queue,
      this.#process,
      {
        connection: store.connection,
        prefix,
        concurrency,
        name: settings.workerName,
        ...(settings.lockDuration === undefined ? {} : { lockDuration: settings.lockDuration }),
        ...(settings.stalledInterval === undefined ? {} : { stalledInterval: settings.stalledInterval }),
        ...(settings.maxStalledCount === undefined ? {} : { maxStalledCount: settings.maxStalledCount }),
      },
      store.backend,
    )
    this.#worker.on('error', settings.trouble)
    // A job BullMQ fails on its own (stalled more than maxStalledCount, started too often): this
    // process noticed it (its worker took the job to fail it), so its onError hears of it.
    this.#worker.on('failed', (job, error) => {
      if (job === undefined || this.#thrown.has(error)) return
      this.#report(error, { id: job.id!, name: job.name })
    })
    // Tell the adders a job's attempt ended, once BullMQ recorded it (on PostgreSQL its event can be missed).
    const ended = (job: Job | undefined): void => {
      if (job?.id !== undefined)
        store.publish('finished', { id: job.id, reason: undefined, addedAt: job.timestamp }).catch(settings.trouble)
    }
    this.#worker.on('completed', ended)
    this.#worker.on('failed', ended)
    this.#unsubscribe = store.subscribe('cancel', this.#onCancelRequest)
    this.#unsubscribe.catch(settings.trouble)
  }

  /** Jobs running in this process. */
  get active(): number {
    return this.#running.size
  }

  /** The jobs running here, oldest first. */
  running(): { id: string; name: string; status: 'running'; ageMs: number }[] {
    const now = Date.now()
    return Array.from(this.#running.values(), ({ id, name, startedAt }) => ({
      id,
      name,
      status: 'running' as const,
      ageMs: now - startedAt,
    }))
  }

  /** Resolves once the worker and the cancel channel are connected (tests wait for it). */
  async ready(): Promise<void> {
    await this.#worker.waitUntilReady()
    await this.#unsubscribe
  }

  // Three parameters: BullMQ passes its AbortSignal only to a processor that declares it.
  #process = async (job: Job, token: string | undefined, signal: AbortSignal | undefined): Promise<unknown> => {
    if (this.#stopping) {
      // BullMQ's fetch in flight when shutdown began took this job for a free slot: hand it back
      // at once, unrun (the worker is paused, so it does not take it again).
      await job.moveToWait(token)
      throw new WaitingError()
    }
    const definition = this.#settings.definitions.get(job.name)
    if (definition === undefined) {
      // A task this process does not define: back to the queue for a process that does.
      await job.moveToDelayed(Date.now() + unknownTaskDelayMs, token)
      throw new DelayedError()
    }
    let settle!: () => void
    const run: Run = {
      id: job.id!,
      addedAt: job.timestamp,
      startedAt: Date.now(),
      name: job.name,
      controller: new AbortController(),
      shutdown: false,
      outcome: undefined,
      done: new Promise<void>((resolve) => (settle = resolve)),
    }
    this.#running.set(run.id, run)
    const onAbort = (): void => this.#abort(run, signal?.reason)
    signal?.addEventListener('abort', onAbort, { once: true })
    const pending = this.#pendingCancels.get(run.id)
    if (pending !== undefined && (pending.addedAt === undefined || pending.addedAt === run.addedAt)) {
      this.#forget(run.id)
      this.#abort(run, pending.reason)
    }
    try {
      const result = await definition.fn(job.data, run.controller.signal)
      validateTaskResult(result, `The result of task "${run.name}"`)
      run.outcome = 'completed'
      return toStoredResult(result)
    } catch (error) {
      const aborted = run.controller.signal.aborted && isCancellation(error)
      if (aborted && run.shutdown) {
        try {
          await job.moveToWait(token)
        } catch (handBack) {
          // Redis lost the job or its lock (restarted, failed over): it could not be handed back.
          run.outcome = 'abandoned'
          this.#settings.trouble(handBack)
          this.#thrown.add(handBack as object)
          throw handBack
        }
        run.outcome = 'requeued'
        throw new WaitingError()
      }
      run.outcome = aborted ? 'cancelled' : 'failed'
      const reason = aborted ? run.controller.signal.reason : error
      if (!aborted) this.#report(error, run)
      await job.log(toLogLine(toWire(reason, aborted))).catch(this.#settings.trouble)
      const failure = aborted ? cancelledFailure(reason) : error instanceof Error ? error : new Error(String(error))
      this.#thrown.add(failure)
      throw failure
    } finally {
      if (run.outcome === 'completed') this.outcomes.fulfilled++
      else if (run.outcome === 'failed') this.outcomes.rejected++
      else if (run.outcome === 'cancelled') this.outcomes.cancelled++
      signal?.removeEventListener('abort', onAbort)
      this.#running.delete(run.id)
      if (this.#counting) this.#finished.add(run)
      settle()
    }
  }

  /** Aborts the task's own signal: a ShutdownError on shutdown, else a CancelledError with the reason given. */
  #abort(run: Run, reason: unknown): void {
    if (run.controller.signal.aborted) return
    const cause = typeof reason === 'string' ? { cause: reason } : undefined
    run.controller.abort(run.shutdown ? new ShutdownError() : new CancelledError(`Background task "${run.name}" was cancelled`, cause))
  }

  #report(error: unknown, run: { id: string; name: string }): void {
    try {
      this.#settings.failed(error, { id: run.id, name: run.name })
    } catch (hookError) {
      this.#settings.trouble(new AggregateError([error, hookError], 'The onError hook threw'))
    }
  }

  #onCancelRequest = ({ id, reason, addedAt }: JobMessage): void => {
    const run = this.#running.get(id)
    // A request for an earlier job with this id (cancelled, removed, added again): not for this one.
    if (run !== undefined && addedAt !== undefined && run.addedAt !== addedAt) return
    if (this.#worker.cancelJob(id, reason)) return
    // Not running here (yet): BullMQ may have handed it to us a moment ago, before our processor
    // started. Remember the request briefly, so the processor starts it cancelled.
    this.#forget(id)
    const timer = setTimeout(() => this.#pendingCancels.delete(id), pendingCancelMs).unref()
    this.#pendingCancels.set(id, { reason, addedAt, timer })
  }

  #forget(id: string): void {
    clearTimeout(this.#pendingCancels.get(id)?.timer)
    this.#pendingCancels.delete(id)
  }

  /**
   * Stops taking jobs, waits up to `timeout` for the running ones, then aborts their signals with
   * ShutdownError: a job that ends cancelled goes back to the queue (requeued); a job the user had
   * cancelled stays cancelled. A job BullMQ's fetch hands over meanwhile goes straight back,
   * unrun and uncounted. What still runs after `grace` is abandoned: BullMQ's stalled-job check
   * returns it to the queue once its lock expires. Then closes the worker and the cancel channel,
   * politely until `closeBy` (a `Date.now()` time), by force after it.
   */
  async shutdown(timeout: number, grace: number, closeBy: () => number): Promise<RunnerReport> {
    this.#stopping = true
    this.#counting = true
    const report: RunnerReport = { completed: 0, failed: 0, cancelled: 0, abandoned: 0, requeued: 0 }
    try {
      await this.#worker.pause(true) // no Redis round trip: only stops the fetch loop
    } catch (error) {
      this.#settings.trouble(error)
    }
    if (!(await this.#idleWithin(timeout))) {
      for (const run of this.#running.values()) {
        if (run.controller.signal.aborted) continue // cancelled by the user: it stays cancelled
        run.shutdown = true
        this.#abort(run, undefined)
      }
      await this.#idleWithin(grace)
    }
    const abandoned = this.#running.size
    for (const run of this.#finished) report[run.outcome ?? 'failed']++
    report.abandoned += abandoned
    for (const id of [...this.#pendingCancels.keys()]) this.#forget(id)
    // Force when jobs were abandoned (their locks lapse, BullMQ's stalled check requeues them) or the store is away.
    const force = abandoned > 0 || !this.#settings.store.ready
    const trouble = this.#settings.trouble
    if (!(await within(this.#worker.close(force), closeBy() - Date.now(), trouble))) {
      // The store does not answer (frozen, restarting): drop the worker's connections.
      this.#worker.disconnect().catch(trouble)
    }
    await within(
      this.#unsubscribe.then((stop) => stop()),
      closeBy() - Date.now(),
    )
    return report
  }

  /** True when no job runs here within `ms` (Infinity: whenever that is). */
  async #idleWithin(ms: number): Promise<boolean> {
    const deadline = ms === Infinity ? Infinity : Date.now() + ms
    while (this.#running.size > 0) {
      const left = deadline - Date.now()
      if (left <= 0) return false
      let timer: NodeJS.Timeout | undefined
      const late = new Promise<void>((resolve) => {
        if (left !== Infinity) timer = setTimeout(resolve, left)
      })
      try {
        await Promise.race([Promise.all([...this.#running.values()].map((run) => run.done)), late])
      } finally {
        clearTimeout(timer)
      }
    }
    return true
  }
}
