// The messages between a Threadpool (main thread) and its workers (worker/entry.ts).
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
  /** Only for a task run with `grace`: the number an {@link AbortRequest} names it by. */
  readonly seq?: number
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
  /** The pool's cancellation ring (see {@link cancelRingSlots}). */
  readonly cancelled: Int32Array
  /** tsx's `tsx/esm/api` URL when the process runs under tsx (see typescript-loader.ts). */
  readonly tsx: string | undefined
}

/**
 * Slots of a pool's cancellation ring, shared memory that outlives a lost {@link AbortRequest}: a
 * thread that is still starting does not hear the pool's channel yet. The pool marks task `seq` in
 * slot `seq % cancelRingSlots` (slot `2i` holds the seq, `2i + 1` 1 for a timeout) before it sends
 * the request, and a thread checks the ring when it starts a task with a `seq`.
 */
export const cancelRingSlots = 1024

export type SourceRequest = { readonly need: number }
export type SourceAnswer = { readonly id: number; readonly entry: ShippedEntry | undefined }
/**
 * Asks the thread running task `abort` (its `seq`) to abort the task's `this.signal`, with a
 * CancelledError or TimeoutError of that message (and cause). Sent to every thread of the pool: the
 * pool does not know which thread runs a task; the others ignore it.
 */
export type AbortRequest = {
  readonly abort: number
  readonly kind: 'cancelled' | 'timeout'
  readonly message: string
  readonly cause: SerializedThrown | undefined
}
