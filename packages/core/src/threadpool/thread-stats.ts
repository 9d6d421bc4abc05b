// Per-thread numbers of a pool, read from the main thread when asked (never on a task's path):
// Node answers `worker.cpuUsage()` and `worker.getHeapStatistics()` by interrupting the thread,
// even while it waits for work in tinypool's Atomics.wait loop. Where the running Node lacks one
// of them (cpuUsage: 22.19+ / 24.6+; getHeapStatistics: 22.16+ / 24), that field is undefined.
import type { Worker } from 'node:worker_threads'
import type { Tinypool } from 'tinypool'
import type { ThreadpoolThreadStats } from './types.js'

interface Sampled {
  cpuUsage?(): Promise<{ user: number; system: number }>
  getHeapStatistics?(): Promise<{ used_heap_size: number; total_heap_size: number; heap_size_limit: number }>
}

/** Reads each live thread's CPU time and heap; a thread that exits meanwhile is left out. */
export async function sampleThreads(tinypool: Tinypool): Promise<ThreadpoolThreadStats[]> {
  const threads = tinypool.threads.map((worker) => (worker as { thread?: Worker }).thread).filter((thread) => thread !== undefined)
  const samples = await Promise.all(
    threads.map(async (thread): Promise<ThreadpoolThreadStats | undefined> => {
      const sampled = thread as Worker & Sampled
      try {
        const [cpu, heap] = await Promise.all([sampled.cpuUsage?.(), sampled.getHeapStatistics?.()])
        return {
          threadId: thread.threadId,
          cpu: cpu === undefined ? undefined : { user: cpu.user, system: cpu.system },
          heap: heap === undefined ? undefined : { used: heap.used_heap_size, total: heap.total_heap_size, limit: heap.heap_size_limit },
        }
      } catch {
        return undefined // the thread stopped while it was asked (ERR_WORKER_NOT_RUNNING)
      }
    }),
  )
  return samples.filter((sample) => sample !== undefined)
}
