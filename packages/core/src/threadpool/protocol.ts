// The messages between a Threadpool (main thread) and its workers (worker/entry.ts).
//
// Tasks travel through tinypool: `tinypool.run(PackedTask)` resolves with a PackedReply. The worker
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

/**
 * A {@link TaskMessage} as it travels: one flat array, the arguments followed by the id (or, for a
 * task with a `seq`, by the seq and the id's bitwise complement, a negative number). Structured
 * clone copies a dense array of numbers for much less than an object holding an array: this
 * envelope is most of what a small task costs to send.
 */
export type PackedTask = unknown[]

/** Packs `message` into a new array (the caller's `args` array is left alone). */
export function packTask({ id, args, seq }: TaskMessage): PackedTask {
  const packed = new Array<unknown>(args.length + (seq === undefined ? 1 : 2))
  for (let i = 0; i < args.length; i++) packed[i] = args[i]
  if (seq === undefined) packed[args.length] = id
  else {
    packed[args.length] = seq
    packed[args.length + 1] = ~id
  }
  return packed
}

/** Unpacks what {@link packTask} made, in place: what is left of `packed` is the arguments. */
export function unpackTask(packed: PackedTask): TaskMessage {
  const last = packed.pop() as number
  if (last >= 0) return { id: last, args: packed }
  const seq = packed.pop() as number
  return { id: ~last, args: packed, seq }
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

/**
 * A {@link TaskReply} as it travels. The common answer, a value and nothing else to say, is sent
 * as the value itself when it is a number, string, boolean, bigint, undefined or null, and as a
 * one-element array `[value]` otherwise; anything else (an error, a stray, late strays) is the
 * TaskReply object. A plain object can thus only be a TaskReply: a task's own object result is
 * always inside an array.
 */
export type PackedReply = TaskReply | readonly [unknown] | string | number | boolean | bigint | undefined | null

/** True for the values sent as themselves in a {@link PackedReply} (all of them cloneable). */
export function isBareValue(value: unknown): value is string | number | boolean | bigint | undefined | null {
  const type = typeof value
  return value === null || (type !== 'object' && type !== 'function' && type !== 'symbol')
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
