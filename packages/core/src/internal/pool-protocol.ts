// The messages between a Threadpool (main thread) and its workers (worker-entry.ts). Types only.
//
// Tasks travel through tinypool: `tinypool.run(TaskMessage)` resolves with a TaskReply. The worker
// entry catches everything the task throws and returns it as a reply, so a rejection from tinypool
// itself always means the pool's machinery failed (the worker died, the arguments could not be
// cloned), never that the task threw.
//
// Function sources travel on a side channel, a BroadcastChannel per pool: a worker that meets a
// function id it has not compiled asks `{ need: id }` and the pool answers `{ id, source }`. The
// task's arguments are sent once, transfers keep working, and nothing is re-queued.
import type { SerializedThrown } from '../remote-error.js'

/** A function shipped by source: `fnId` names the source (see function-source.ts). */
export interface FunctionTaskMessage {
  readonly fnId: number
  readonly name: string
  readonly args: readonly unknown[]
}

/** A function exported by a module (see worker-task.ts). */
export interface ModuleTaskMessage {
  readonly moduleUrl: string
  readonly exportName: string
  readonly name: string
  readonly args: readonly unknown[]
}

export type TaskMessage = FunctionTaskMessage | ModuleTaskMessage

export type TaskReply = { readonly ok: true; readonly value: unknown } | { readonly ok: false; readonly error: SerializedThrown }

/** tinypool's `workerData` for our workers. */
export interface PoolWorkerData {
  /** The BroadcastChannel name on which function sources are requested and answered. */
  readonly channel: string
}

export type SourceRequest = { readonly need: number }
export type SourceAnswer = { readonly id: number; readonly source: string | undefined }

/** The error code of arguments or results that structured clone cannot copy. */
export const dataCloneCode = 'ERR_THREADPOOL_DATA_CLONE'
