// The messages between a Threadpool (main thread) and its workers (worker-entry.ts). Types only.
//
// Tasks travel through tinypool: `tinypool.run(TaskMessage)` resolves with a TaskReply. The worker
// entry catches everything the task throws and returns it as a reply, so a rejection from tinypool
// itself always means the pool's machinery failed (the worker died, the arguments could not be
// cloned), never that the task threw.
//
// Function sources (and workerTask modules) travel on a side channel, a BroadcastChannel per pool:
// a worker that meets an id it does not know asks `{ need: id }` and the pool answers `{ id, entry }`. The
// task's arguments are sent once, transfers keep working, and nothing is re-queued.
import type { ShippedEntry } from './function-source.js'
import type { SerializedThrown } from './remote-error.js'

/**
 * One task: the process-wide id of its function (a shipped source or a workerTask's module and
 * export, see function-source.ts) and its arguments. Nothing else travels per task.
 */
export interface TaskMessage {
  readonly id: number
  readonly args: readonly unknown[]
}

export type TaskReply = (
  | { readonly ok: true; readonly value: unknown }
  | { readonly ok: false; readonly error: SerializedThrown }
  /** The task left a stray rejection or throw behind before it answered: its thread is replaced. */
  | { readonly ok: false; readonly stray: { readonly kind: StrayKind; readonly error: SerializedThrown } }
) & {
  /** Strays of earlier tasks that surfaced after those tasks had answered (the thread is replaced). */
  readonly late?: readonly LateStray[]
}

/** A stray that surfaced after its task had answered. */
export interface LateStray {
  readonly task: string
  readonly kind: StrayKind
  readonly error: SerializedThrown
}

/** How a task's stray surfaced in its thread. */
export type StrayKind = 'uncaught exception' | 'unhandled rejection'

/** tinypool's `workerData` for our workers. */
export interface PoolWorkerData {
  /** The BroadcastChannel name on which function sources are requested and answered. */
  readonly channel: string
}

export type SourceRequest = { readonly need: number }
export type SourceAnswer = { readonly id: number; readonly entry: ShippedEntry | undefined }

