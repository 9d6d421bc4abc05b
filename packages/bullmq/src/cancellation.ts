// Cancelling a job by id from any process: a queued job is removed from the queue; a running one
// is asked to stop over a Redis pub/sub channel that every worker of the queue listens to (the
// worker running it aborts it with BullMQ's `cancelJob`).
import type { Queue } from 'bullmq'
import type { Redis } from 'ioredis'

/** The channel on which cancel requests for running jobs travel, one per queue. */
export function cancelChannel(prefix: string, queue: string): string {
  return `${prefix}:${queue}:taskscope:cancel`
}

/** A cancel request as it travels on {@link cancelChannel}. */
export interface CancelRequest {
  id: string
  reason: string | undefined
  /** When the job it is for was added (BullMQ's `timestamp`): a later job reusing the id is not cancelled. */
  addedAt: number | undefined
}

/**
 * Cancels the job with this id: `'removed'` when it was queued (it never runs), `'requested'` when
 * it may be running (the request is published), `'finished'` when it had ended or is unknown.
 */
export async function cancelJob(
  queue: Queue,
  publisher: Redis,
  prefix: string,
  id: string,
  reason: unknown,
): Promise<'removed' | 'requested' | 'finished'> {
  const job = await queue.getJob(id)
  if (job === undefined || job === null) return 'finished'
  const state = await job.getState()
  if (state === 'completed' || state === 'failed' || state === 'unknown') return 'finished'
  if (state !== 'active') {
    try {
      await job.remove()
      return 'removed'
    } catch {
      // It started meanwhile (BullMQ refuses to remove a locked job): stop it where it runs.
    }
  }
  const request: CancelRequest = {
    id,
    addedAt: job.timestamp,
    reason: reason === undefined ? undefined : reason instanceof Error ? reason.message : String(reason),
  }
  await publisher.publish(cancelChannel(prefix, queue.name), JSON.stringify(request))
  return 'requested'
}

/** Reads a message of {@link cancelChannel}; undefined for anything that is not a cancel request. */
export function parseCancelRequest(message: string): CancelRequest | undefined {
  let request: { id?: unknown; reason?: unknown; addedAt?: unknown }
  try {
    request = JSON.parse(message)
  } catch {
    return undefined
  }
  if (typeof request?.id !== 'string') return undefined
  const addedAt = typeof request.addedAt === 'number' ? request.addedAt : undefined
  return { id: request.id, reason: typeof request.reason === 'string' ? request.reason : undefined, addedAt }
}
