// One task of a Threadpool, from `run()` to its outcome, and the meaning of tinypool's rejections.
import type { TransferListItem } from 'node:worker_threads'
import { type CancelledError, codedError, errorCodes, TimeoutError, WorkerCrashedError, warningCodes } from '../errors.js'
import { toCancelledError } from '../internal/cancel.js'
import { type Deferred, deferred } from '../internal/deferred.js'
import { invalidType } from '../internal/validation.js'
import { shipFunction, shipWorkerTask } from './function-source.js'
import type { TaskMessage, TaskReply } from './protocol.js'
import { deserializeThrown } from './remote-error.js'
import { isWorkerTask } from './worker-task.js'

export type Outcome = 'completed' | 'failed' | 'cancelled'

export interface PoolTask {
  /** What is posted to the worker; dropped once posted, so the arguments can be collected. */
  message: TaskMessage | undefined
  readonly name: string
  readonly transfer: TransferListItem[] | undefined
  readonly result: Deferred<unknown>
  readonly signal: AbortSignal | undefined
  onAbort: (() => void) | undefined
  timer: NodeJS.Timeout | undefined
  /** Given to tinypool when the task has a signal or timeout: aborting it stops the worker. */
  controller: AbortController | undefined
  /** The `grace` run option: ms a running task is given to stop by itself once cancelled. */
  readonly grace: number | undefined
  /** The task's number in abort requests (tasks with `grace` only). */
  readonly seq: number | undefined
  /** Set when a running task with `grace` was cancelled: the call rejects with it once the task stops. */
  stopping: CancelledError | undefined
  /** Terminates the thread of a `stopping` task that did not stop within its grace. */
  graceTimer: NodeJS.Timeout | undefined
  readonly queuedAt: number
  startedAt: number
  settled: boolean
}

/** Numbers tasks run with `grace`, so that an abort request names the task it is for. */
let lastSeq = 0

/**
 * Builds the worker message of `run(task, args)` and the task's name; a task given a `grace` gets a
 * `seq`. Throws TypeError for a bad task or args.
 */
export function toMessage(task: unknown, args: unknown, grace: number | undefined): { message: TaskMessage; name: string } {
  let id: number
  let name: string
  if (isWorkerTask(task)) {
    id = shipWorkerTask(task)
    name = task.name
  } else if (typeof task === 'function') {
    ;({ id, name } = shipFunction(task as (...args: never[]) => unknown))
  } else throw invalidType('The "task" argument', 'a function or a workerTask()', task)
  if (!Array.isArray(args)) throw invalidType('The "args" argument', 'an array of arguments', args)
  return { message: grace === undefined ? { id, args } : { id, args, seq: (lastSeq = (lastSeq % 0x7fff_ffff) + 1) }, name }
}

export function createTask(
  message: TaskMessage,
  name: string,
  transfer: TransferListItem[] | undefined,
  signal: AbortSignal | undefined,
  grace: number | undefined,
  now: number,
): PoolTask {
  return {
    message,
    name,
    transfer,
    result: deferred(),
    signal,
    onAbort: undefined,
    timer: undefined,
    controller: undefined,
    grace,
    seq: message.seq,
    stopping: undefined,
    graceTimer: undefined,
    queuedAt: now,
    startedAt: 0,
    settled: false,
  }
}

/** The error a worker's 'exit' is reported with (see Threadpool#watchWorkers). */
/** Wires a task's signal and timeout to the pool's `cancel`; {@link disarmTask} undoes it. */
export function armTask(task: PoolTask, timeout: number | undefined, cancel: (task: PoolTask, error: CancelledError) => void): void {
  const { signal } = task
  if (signal !== undefined) {
    task.onAbort = () => cancel(task, toCancelledError(signal.reason, `The Threadpool task "${task.name}" was cancelled`))
    signal.addEventListener('abort', task.onAbort, { once: true })
  }
  if (timeout !== undefined) {
    const timedOut = (): void => cancel(task, new TimeoutError(`The Threadpool task "${task.name}" timed out after ${timeout} ms`))
    task.timer = setTimeout(timedOut, timeout).unref()
  }
}

/** Removes what {@link armTask} set up, and the message, once the task settled. */
export function disarmTask(task: PoolTask): void {
  if (task.onAbort !== undefined) task.signal?.removeEventListener('abort', task.onAbort)
  clearTimeout(task.timer)
  clearTimeout(task.graceTimer)
  task.message = undefined
}

export function exitError(exitCode: number): WorkerCrashedError {
  return Object.assign(new WorkerCrashedError(`The worker thread exited with code ${exitCode}`), { exitCode })
}

/**
 * What a worker's reply means: the task's value, its own error, or the stray it left behind. Strays
 * of earlier tasks that surfaced after their answer cannot fail anyone any more: they become
 * process warnings (`ThreadpoolStrayWarning`), so they are not lost.
 */
export function readReply(name: string, reply: TaskReply): { ok: boolean; value: unknown } {
  for (const stray of reply.late ?? []) {
    const cause = deserializeThrown(stray.error)
    const message = `The Threadpool task "${stray.task}" left an ${stray.kind} behind in its worker thread after it answered; the thread was replaced`
    process.emitWarning(message, {
      type: 'ThreadpoolStrayWarning',
      code: warningCodes.threadpoolStray,
      detail: cause instanceof Error ? (cause.stack ?? String(cause)) : String(cause),
    })
  }
  if (reply.ok) return { ok: true, value: reply.value }
  if ('error' in reply) return { ok: false, value: deserializeThrown(reply.error) }
  const cause = deserializeThrown(reply.stray.error)
  const why = cause instanceof Error ? `: ${cause.message}` : ''
  const message = `The Threadpool task "${name}" left an ${reply.stray.kind} behind in its worker thread, which was replaced${why}`
  return { ok: false, value: new WorkerCrashedError(message, { cause }) }
}

/**
 * What a rejection of `tinypool.run` means. The worker entry turns everything a task throws into a
 * reply, so a rejection is never the task's own error: it is either arguments that structured clone
 * refused (a DOMException thrown on this thread by postMessage) or the death of the worker.
 */
export function explainRejection(name: string, error: unknown): Error {
  if (error instanceof DOMException && error.name === 'DataCloneError') {
    const message = `The arguments of the Threadpool task "${name}" could not be cloned to a worker thread: ${error.message}`
    return codedError(TypeError, errorCodes.threadpoolDataClone, message, { cause: error })
  }
  const exitCode = error instanceof WorkerCrashedError ? error.exitCode : undefined
  if (typeof exitCode === 'number') {
    const crashed = new WorkerCrashedError(`The worker running the Threadpool task "${name}" exited with code ${exitCode}`, {
      cause: exitCode,
    })
    return Object.assign(crashed, { exitCode })
  }
  const why = error instanceof Error ? `: ${error.message}` : ''
  return new WorkerCrashedError(`The worker running the Threadpool task "${name}" died${why}`, { cause: error })
}

/** What a reply means for its task; a task asked to stop (`grace`) that answered in time is cancelled. */
export function replyOutcome(task: PoolTask, reply: TaskReply): [Outcome, unknown] {
  const { ok, value } = readReply(task.name, reply)
  if (task.stopping !== undefined) return ['cancelled', task.stopping]
  return [ok ? 'completed' : 'failed', value]
}

/** What a rejection of `tinypool.run` means for its task (see {@link explainRejection}). */
export function rejectionOutcome(task: PoolTask, error: unknown): [Outcome, unknown] {
  return task.stopping !== undefined ? ['cancelled', task.stopping] : ['failed', explainRejection(task.name, error)]
}
