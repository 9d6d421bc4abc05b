// How a Threadpool starts tinypool and its worker threads: our worker entry, the pool's channel
// name, cancellation ring and TypeScript loader as workerData, and the recycle hook that replaces a
// thread a task left a stray behind in.
import { Tinypool } from 'tinypool'
import type { PoolWorkerData } from './protocol.js'
import type { SourceChannel } from './source-channel.js'
import { tsxApiUrl } from './typescript-loader.js'
import type { ThreadpoolSettings } from './types.js'

const workerEntry = new URL('./worker/entry.js', import.meta.url).href

/** Starts the tinypool behind a Threadpool with `settings`; its threads talk on `channel`. */
export function startTinypool(settings: ThreadpoolSettings, channel: SourceChannel): Tinypool {
  const { minThreads, maxThreads, idleTimeout, resourceLimits } = settings
  return new Tinypool({
    filename: workerEntry,
    minThreads,
    maxThreads,
    idleTimeout,
    workerData: { channel: channel.name, cancelled: channel.cancelled, tsx: tsxApiUrl() } satisfies PoolWorkerData,
    // Never reached by a real heap: a worker whose task left a stray rejection or throw behind
    // reports Infinity in its reply, and tinypool then replaces it after that answer (worker/entry.ts).
    maxMemoryLimitBeforeRecycle: Number.MAX_VALUE,
    ...(resourceLimits !== undefined && { resourceLimits }),
  })
}
