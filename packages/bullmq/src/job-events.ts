// How a process hears about the jobs it holds handles for: BullMQ's QueueEvents (a Redis stream, or
// the event table on PostgreSQL), read from the position it had when we first subscribed, so no
// event is missed; and the store's removal notices where its events do not report removed jobs.
import { CancelledError, ClosedError } from '@taskscope/core'
import { codedError, errorCodes } from '@taskscope/core/adapter'
import { type Queue, QueueEvents } from 'bullmq'
import { within } from './bounded.js'
import type { Store } from './store.js'
import { type AnyBullmqTask, kDetach, kMove, kSettle } from './task-handle.js'
import { fromLogLines, fromStoredResult, fromWire } from './wire.js'

export class JobEvents {
  readonly #queue: string
  readonly #prefix: string
  readonly #store: Store
  readonly #handles: Map<string, AnyBullmqTask>
  readonly #trouble: (error: unknown) => void
  /** The registry's Queue, to read jobs back (the registry owns and closes it). */
  readonly #reader: Queue
  #events: Promise<QueueEvents> | undefined
  #unsubscribe: Promise<() => Promise<void>> | undefined
  #closed = false

  constructor(
    queue: string,
    prefix: string,
    store: Store,
    reader: Queue,
    handles: Map<string, AnyBullmqTask>,
    trouble: (error: unknown) => void,
  ) {
    this.#queue = queue
    this.#prefix = prefix
    this.#store = store
    this.#reader = reader
    this.#handles = handles
    this.#trouble = trouble
  }

  /** Resolves once this process listens to the queue's events (from now on, none is missed). */
  async subscribed(): Promise<void> {
    if (this.#closed) throw new ClosedError('Background tasks are shut down')
    this.#events ??= this.#subscribe()
    try {
      await this.#events
    } catch (error) {
      this.#events = undefined // try again next time
      throw error
    }
  }

  async #subscribe(): Promise<QueueEvents> {
    this.#unsubscribe ??= (async () => {
      const stopRemoved = await this.#store.subscribe('removed', ({ id }) => this.removed(id))
      // A job's attempt ended (PostgreSQL: its event may be missed): read its state.
      const stopFinished = await this.#store.subscribe('finished', ({ id }) => {
        const handle = this.#handles.get(id)
        if (handle !== undefined) void this.refresh(handle).catch(this.#trouble)
      })
      return async () => {
        await Promise.all([stopRemoved(), stopFinished()])
      }
    })()
    await this.#unsubscribe.catch((error) => {
      this.#unsubscribe = undefined
      throw error
    })
    const lastEventId = await this.#store.lastEventId()
    const events = new QueueEvents(
      this.#queue,
      { connection: this.#store.connection, prefix: this.#prefix, lastEventId },
      this.#store.backend,
    )
    events.on('error', this.#trouble)
    events.on('active', ({ jobId }) => this.#handles.get(jobId)?.[kMove]('running'))
    events.on('waiting', ({ jobId }) => this.#handles.get(jobId)?.[kMove]('queued'))
    events.on('delayed', ({ jobId }) => this.#handles.get(jobId)?.[kMove]('queued'))
    events.on('completed', ({ jobId, returnvalue }) => this.#settle(jobId, 'fulfilled', fromStoredResult(returnvalue)))
    events.on('failed', ({ jobId, failedReason }) => void this.#failed(jobId, failedReason))
    events.on('removed', ({ jobId }) => this.removed(jobId))
    events.on('duplicated', ({ jobId }) => {
      const handle = this.#handles.get(jobId)
      if (handle !== undefined) void this.refresh(handle).catch(this.#trouble)
    })
    return events
  }

  /**
   * Brings a handle up to the job's state in the queue (after an add of an existing id, or after
   * Redis came back). The state is read first, then the job: a job read as finished has its result
   * (reading the job first could see it unfinished, then its state finished, with no result yet).
   * A job the queue no longer holds rejects its handle with `ERR_JOB_LOST`.
   */
  async refresh(handle: AnyBullmqTask): Promise<void> {
    const reader = this.#reader
    const state = await reader.getJobState(handle.id)
    if (state === 'unknown') return this.#lost(handle)
    if (state === 'active') handle[kMove]('running')
    else if (state === 'completed') {
      const job = await reader.getJob(handle.id)
      if (job === undefined || job === null) return this.#lost(handle)
      this.#settle(handle.id, 'fulfilled', fromStoredResult(job.returnvalue))
    } else if (state === 'failed') {
      const job = await reader.getJob(handle.id)
      await this.#failed(handle.id, job?.failedReason ?? '')
    }
  }

  /** Refreshes every handle still waiting but those `skip` names (their add is still under way). */
  async refreshAll(skip: (id: string) => boolean): Promise<void> {
    for (const handle of [...this.#handles.values()]) {
      if (this.#closed) return
      if (!skip(handle.id)) await this.refresh(handle)
    }
  }

  #lost(handle: AnyBullmqTask): void {
    const message = `The job "${handle.id}" (task "${handle.name}") is no longer in the queue: its store lost it (a Redis restart without persistence) or it was removed`
    this.#settle(handle.id, 'rejected', codedError(Error, errorCodes.jobLost, message))
  }

  /** The job was removed before it ran: its handle ends cancelled. */
  removed(id: string): void {
    const handle = this.#handles.get(id)
    if (handle !== undefined)
      this.#settle(id, 'cancelled', new CancelledError(`Background task "${handle.name}" was cancelled before it ran`))
  }

  /** The job could not be stored: its handle rejects with the reason. */
  fail(handle: AnyBullmqTask, error: unknown): void {
    this.#settle(handle.id, 'rejected', error)
  }

  /** Rebuilds the failure (name, message, code) from the line the running process logged. */
  async #failed(id: string, failedReason: string): Promise<void> {
    const handle = this.#handles.get(id)
    if (handle === undefined) return
    let lines: string[] = []
    try {
      lines = (await this.#reader.getJobLogs(id, -1, -1)).logs
    } catch (error) {
      this.#trouble(error)
    }
    const error = fromWire(fromLogLines(lines), failedReason, handle.name)
    this.#settle(id, error instanceof CancelledError ? 'cancelled' : 'rejected', error)
  }

  #settle(id: string, status: 'fulfilled' | 'rejected' | 'cancelled', value: unknown): void {
    const handle = this.#handles.get(id)
    if (handle === undefined) return
    this.#handles.delete(id)
    handle[kSettle](status, value)
  }

  /**
   * Stops listening, politely until `closeBy` (a `Date.now()` time), by force after it; handles
   * still waiting reject with ClosedError (their jobs go on in the queue).
   */
  async close(away: boolean, closeBy: () => number): Promise<void> {
    this.#closed = true
    const events = this.#events
    this.#events = undefined
    const unsubscribe = this.#unsubscribe
    this.#unsubscribe = undefined
    if (unsubscribe !== undefined)
      await within(
        unsubscribe.then((stop) => stop()),
        closeBy() - Date.now(),
      )
    for (const [id, handle] of this.#handles) {
      this.#handles.delete(id)
      handle[kDetach](new ClosedError(`Background tasks shut down before job "${id}" finished; it goes on in the queue`))
    }
    if (events === undefined) return
    let reader: QueueEvents | undefined
    await within(
      events.then((made) => (reader = made)),
      closeBy() - Date.now(),
    )
    if (reader === undefined) return
    const closing = away ? reader.disconnect() : reader.close()
    if (!(await within(closing, closeBy() - Date.now(), this.#trouble))) reader.disconnect().catch(this.#trouble)
  }
}
