/**
 * The task manager of the original docs' practice exercise, framework-agnostic (the Fastify,
 * Express and Koa versions only map routes onto it). Each task is a named job running in the
 * app's background tasks, with an `AsyncEvent` that is set when it ends, so that a request can
 * wait for the outcome without polling, and give up when its own client leaves.
 */
import { setTimeout as sleep } from 'node:timers/promises'
import { AsyncEvent, isCancellation, TimeoutError } from '@taskscope/core'

export class TaskManager {
  #tasks = new Map() // id -> { record, job, done }
  #backgroundTasks
  #stepMs

  /** `backgroundTasks`: the app's registry; `stepMs`: how long one step of a job takes. */
  constructor(backgroundTasks, { stepMs = 500 } = {}) {
    this.#backgroundTasks = backgroundTasks
    this.#stepMs = stepMs
  }

  /** Starts a job of `steps` steps (throws ClosedError while the app shuts down). */
  start(name, steps) {
    const record = {
      id: '',
      name,
      status: 'running',
      progress: 0,
      steps,
      result: undefined,
      error: undefined,
      startedAt: new Date().toISOString(),
      finishedAt: undefined,
    }
    const done = new AsyncEvent()
    const job = this.#backgroundTasks.add(
      async (signal) => {
        for (let step = 1; step <= steps; step++) {
          await sleep(this.#stepMs, undefined, { signal }) // real work would pass the signal on, too
          record.progress = step
        }
        return `${name}: ${steps} steps done`
      },
      { name: `task: ${name}` },
    )
    record.id = job.id
    // Awaiting the job here observes its failure: it is recorded rather than logged.
    job
      .then(
        (result) => Object.assign(record, { status: 'completed', result }),
        (error) => Object.assign(record, { status: isCancellation(error) ? 'cancelled' : 'failed', error: error.message }),
      )
      .finally(() => {
        record.finishedAt = new Date().toISOString()
        done.set() // wakes every request waiting in wait()
      })
    this.#tasks.set(job.id, { record, job, done })
    return { ...record }
  }

  /** Every task, running or finished. (A real app would drop old finished tasks.) */
  list() {
    return [...this.#tasks.values()].map(({ record }) => ({ ...record }))
  }

  /**
   * The task once it has ended, or as it is after `timeout` ms (`status: 'running'`); undefined
   * when there is no such task. Rejects with a CancelledError when `signal` aborts (the client left).
   */
  async wait(id, { signal, timeout }) {
    const entry = this.#tasks.get(id)
    if (entry === undefined) return undefined
    await entry.done.wait({ signal, timeout }).catch((error) => {
      if (!(error instanceof TimeoutError)) throw error
    })
    return { ...entry.record }
  }

  /** Cancels a running task and resolves with it once it has stopped; undefined when unknown. */
  async cancel(id) {
    const entry = this.#tasks.get(id)
    if (entry === undefined) return undefined
    entry.job.cancel(new Error('cancelled by DELETE /tasks/:id'))
    await entry.done.wait()
    return { ...entry.record }
  }
}

/** Reads `{ name, steps }` from a POST /tasks body, for frameworks without schema validation. */
export function parseStart(body) {
  const { name, steps = 10 } = body ?? {}
  if (typeof name !== 'string' || name.length === 0 || name.length > 100)
    throw Object.assign(new Error('"name" must be a string of 1 to 100 characters'), { status: 400, expose: true })
  if (!Number.isInteger(steps) || steps < 1 || steps > 100_000)
    throw Object.assign(new Error('"steps" must be an integer from 1 to 100000'), { status: 400, expose: true })
  return { name, steps }
}
