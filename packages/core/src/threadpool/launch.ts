// How a Threadpool starts tinypool and its worker threads: our worker entry; the pool's channel
// name, cancellation ring and TypeScript loader as workerData; the recycle hook that replaces a
// thread a task left a stray behind in; and, where Node accepts it, the preload that spares each
// reply tinypool's `process.memoryUsage()` call (see worker/reply-guard.ts).
import { Worker } from 'node:worker_threads'
import { Tinypool } from 'tinypool'
import type { PoolWorkerData } from './protocol.js'
import type { SourceChannel } from './source-channel.js'
import { tsxApiUrl } from './typescript-loader.js'
import type { ThreadpoolSettings } from './types.js'

const workerEntry = new URL('./worker/entry.js', import.meta.url).href
const preload = new URL('./worker/preload.js', import.meta.url).href

let execArgv: string[] | null | undefined

/**
 * The threads' node flags: this process's own (which threads inherit anyway) plus the preload.
 * A Worker refuses flags that act on the whole process (`--max-old-space-size`, `--title` ...) when
 * they are given explicitly; with such flags the threads inherit them as usual and run without the
 * preload. Checked once per process: a Worker constructor throws at once for refused flags, and a
 * probe that does start is stopped at once.
 */
function threadExecArgv(): string[] | undefined {
  if (execArgv !== undefined) return execArgv ?? undefined
  const candidate = [...process.execArgv, '--import', preload]
  execArgv = candidate
  if (process.execArgv.length > 0) {
    try {
      const probe = new Worker('', { eval: true, execArgv: candidate, stdout: true, stderr: true })
      probe.unref()
      void probe.terminate()
    } catch {
      execArgv = null // ERR_WORKER_INVALID_EXEC_ARGV
    }
  }
  return execArgv ?? undefined
}

/** Starts the tinypool behind a Threadpool with `settings`; its threads talk on `channel`. */
export function startTinypool(settings: ThreadpoolSettings, channel: SourceChannel): Tinypool {
  const { minThreads, maxThreads, idleTimeout, resourceLimits } = settings
  const argv = threadExecArgv()
  return new Tinypool({
    filename: workerEntry,
    minThreads,
    maxThreads,
    idleTimeout,
    workerData: { channel: channel.name, cancelled: channel.cancelled, tsx: tsxApiUrl() } satisfies PoolWorkerData,
    ...(argv !== undefined && { execArgv: argv }),
    // Never reached by a real heap: a thread whose task left a stray rejection or throw behind
    // reports Infinity, and tinypool then replaces it after that answer (worker/reply-guard.ts).
    maxMemoryLimitBeforeRecycle: Number.MAX_VALUE,
    ...(resourceLimits !== undefined && { resourceLimits }),
  })
}
