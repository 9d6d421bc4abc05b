// Snapshots of jobs read back from the queue for get() and list(): what any process can see of
// any job, whoever added or ran it.
import type { Job, JobType, Queue } from 'bullmq'
import type { BullmqTaskStatus } from './task-handle.js'
import { cancelledMark, fromLogLines, fromStoredResult, fromWire } from './wire.js'

/** One entry of {@link BullmqBackgroundTasks.list}, or what {@link BullmqBackgroundTasks.get} returns. */
export interface BullmqTaskInfo {
  id: string
  name: string
  status: BullmqTaskStatus
  /** When it was added. */
  addedAt: Date
  /** When its current (or last) attempt started. */
  startedAt: Date | undefined
  /** When it finished. */
  finishedAt: Date | undefined
  /** Attempts made so far. */
  attempts: number
  /** The worker (`host:pid`) running it or that ran it last. */
  processedBy: string | undefined
  /** From `get()`: the result of a fulfilled job. */
  result?: unknown
  /** From `get()`: the error of a rejected or cancelled job (with `name`, `message`, `code`). */
  error?: Error
}

/** BullMQ's states that are `'queued'` for us. */
const queuedTypes: JobType[] = ['waiting', 'delayed', 'prioritized', 'waiting-children']

/** The BullMQ states listed for one of our statuses (`'cancelled'` jobs are failed ones with the mark). */
const typesOf = (status: BullmqTaskStatus): JobType[] =>
  status === 'queued' ? queuedTypes : status === 'running' ? ['active'] : status === 'fulfilled' ? ['completed'] : ['failed']

/** The job with this id, with its result or error once finished; undefined when the queue does not hold it. */
export async function readJob(queue: Queue, id: string): Promise<BullmqTaskInfo | undefined> {
  // The state first, then the job: a job read as finished then has its result or error.
  const state = await queue.getJobState(id)
  if (state === 'unknown') return undefined
  const job = await queue.getJob(id)
  if (job === undefined || job === null) return undefined
  const status: BullmqTaskStatus =
    state === 'active' ? 'running' : state === 'completed' ? 'fulfilled' : state === 'failed' ? 'rejected' : 'queued'
  const info = toInfo(job, status)
  if (status === 'fulfilled') info.result = fromStoredResult(job.returnvalue)
  if (info.status === 'rejected' || info.status === 'cancelled') {
    const { logs } = await queue.getJobLogs(id, -1, -1)
    info.error = fromWire(fromLogLines(logs), job.failedReason ?? '', job.name)
  }
  return info
}

/** The jobs with these statuses, at most `limit` per status. */
export async function listJobs(queue: Queue, statuses: readonly BullmqTaskStatus[], limit: number): Promise<BullmqTaskInfo[]> {
  const out: BullmqTaskInfo[] = []
  for (const status of new Set(statuses)) {
    // 'rejected' and 'cancelled' read the same BullMQ list: read it once.
    if (status === 'cancelled' && statuses.includes('rejected')) continue
    const jobs = await queue.getJobs(typesOf(status), 0, limit - 1)
    for (const job of jobs) {
      if (job === undefined || job === null) continue
      const info = toInfo(job, status)
      if (info.status === status || (status === 'rejected' && statuses.includes('cancelled'))) out.push(info)
    }
  }
  return out
}

function toInfo(job: Job, listed: BullmqTaskStatus): BullmqTaskInfo {
  let status = listed
  if (listed === 'rejected' && job.failedReason?.startsWith(cancelledMark)) status = 'cancelled'
  return {
    id: job.id!,
    name: job.name,
    status,
    addedAt: new Date(job.timestamp),
    startedAt: job.processedOn ? new Date(job.processedOn) : undefined,
    finishedAt: job.finishedOn ? new Date(job.finishedOn) : undefined,
    attempts: job.attemptsMade,
    processedBy: job.processedBy,
  }
}
