// What tinypool's answers mean: a worker's reply (the task's value, its own error, or a stray it
// left behind), a rejection of `tinypool.run` (arguments structured clone refused, or the death of
// the worker), and a worker's exit. The messages themselves are in protocol.ts.
import { codedError, errorCodes, WorkerCrashedError, warningCodes } from '../errors.js'
import type { PoolTask } from './pool-task.js'
import { isBareValue, type PackedReply, type TaskReply } from './protocol.js'
import { deserializeThrown } from './remote-error.js'

/** How a pool task ended. */
export type Outcome = 'completed' | 'failed' | 'cancelled'

/** The error a worker's 'exit' is reported with (see thread-watch.ts). */
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
export function replyOutcome(task: PoolTask, reply: PackedReply): [Outcome, unknown] {
  // The common answer first, without a TaskReply object (see PackedReply).
  if (isBareValue(reply)) return task.stopping === undefined ? ['completed', reply] : ['cancelled', task.stopping]
  if (Array.isArray(reply)) return task.stopping === undefined ? ['completed', reply[0]] : ['cancelled', task.stopping]
  const { ok, value } = readReply(task.name, reply as TaskReply)
  if (task.stopping !== undefined) return ['cancelled', task.stopping]
  return [ok ? 'completed' : 'failed', value]
}

/** What a rejection of `tinypool.run` means for its task (see {@link explainRejection}). */
export function rejectionOutcome(task: PoolTask, error: unknown): [Outcome, unknown] {
  return task.stopping !== undefined ? ['cancelled', task.stopping] : ['failed', explainRejection(task.name, error)]
}
