// Cancelling a job by id from any process: a queued job is removed from the queue (and, where the
// store's events do not say so, every process hears of it); a running one is asked to stop over
// the store's messaging that every worker of the queue listens to (a Redis pub/sub channel, or
// BullMQ's Relay on PostgreSQL); the worker running it aborts it with BullMQ's `cancelJob`.
import type { Queue } from 'bullmq'
import type { JobMessage, Store } from './store.js'

/** The channel on which cancel requests for running jobs travel, one per queue. */
export function cancelChannel(prefix: string, queue: string): string {
  return `${prefix}:${queue}:taskscope:cancel`
}

/** A cancel request as it travels. */
export type CancelRequest = JobMessage

/**
 * Cancels the job with this id: `'removed'` when it was queued (it never runs), `'requested'` when
 * it may be running (the request is published), `'finished'` when it had ended or is unknown.
 */
export async function cancelJob(queue: Queue, store: Store, id: string, reason: unknown): Promise<'removed' | 'requested' | 'finished'> {
  const job = await queue.getJob(id)
  if (job === undefined || job === null) return 'finished'
  const state = await job.getState()
  if (state === 'completed' || state === 'failed' || state === 'unknown') return 'finished'
  if (state !== 'active') {
    try {
      await job.remove()
      await store.publish('removed', { id, reason: undefined }).catch(store.trouble)
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
  await store.publish('cancel', request)
  return 'requested'
}
