// How a Threadpool starts tinypool and its worker threads: our worker entry; the pool's channel
// name, cancellation ring and TypeScript loader as workerData; the recycle hook that replaces a
// thread a task left a stray behind in; and, where Node accepts it, the preload that spares each
// reply tinypool's `process.memoryUsage()` call (see worker/reply-guard.ts).
import { Worker } from 'node:worker_threads'
import { Tinypool } from 'tinypool'
import type { PoolWorkerData } from './protocol.js'
import type { SideChannel } from './side-channel.js'
import type { ThreadpoolSettings } from './types.js'
import { tsxApiUrl } from './typescript-loader.js'

const workerEntry = new URL('./worker/entry.js', import.meta.url).href
const preload = new URL('./worker/preload.js', import.meta.url).href

let execArgv: string[] | null | undefined

/**
 * The threads' node flags: this process's own (which threads inherit anyway) plus the preload,
 * less those about the main script's input (`-e`, `--input-type`).
 * Given explicitly, a Worker refuses flags that act on the whole process (V8 flags such as
 * `--max-old-space-size` or `--expose-gc`, `--title` ...): those are dropped, as they apply to
 * every thread regardless. Worked out once per process: a Worker constructor throws at once for
 * refused flags, naming them; a probe that does start is stopped at once. Should Node ever refuse
 * the list for a reason not understood here, the threads start as before, without the preload.
 */
function threadExecArgv(): string[] | undefined {
  if (execArgv === undefined) execArgv = findExecArgv() ?? null
  return execArgv ?? undefined
}

/** Flags about the main script's own input (`node --input-type=module -e "…"`), which would fail a thread's start. */
const inputFlags = /^(?:-e|--eval|-p|--print|--input-type)$/

function findExecArgv(): string[] | undefined {
  let flags = withoutInputFlags(process.execArgv)
  if (flags.length === 0) return ['--import', preload]
  for (let attempt = 0; attempt < 2; attempt++) {
    const candidate = [...flags, '--import', preload]
    try {
      const probe = new Worker('', { eval: true, execArgv: candidate, stdout: true, stderr: true })
      probe.unref()
      void probe.terminate()
      return candidate
    } catch (error) {
      const { code, message } = (error ?? {}) as { code?: unknown; message?: unknown }
      if (code !== 'ERR_WORKER_INVALID_EXEC_ARGV' || typeof message !== 'string') return undefined
      // "Initiated Worker with invalid execArgv flags: --expose-gc, --max-old-space-size=300"
      const refused = new Set(message.slice(message.indexOf(': ') + 2).split(', '))
      const kept = flags.filter((flag) => !refused.has(flag))
      if (kept.length === flags.length) return undefined
      flags = kept
    }
  }
  return undefined
}

function withoutInputFlags(argv: readonly string[]): string[] {
  const kept: string[] = []
  for (let i = 0; i < argv.length; i++) {
    const flag = argv[i]!
    if (/^--(?:input-type|eval|print)=/.test(flag)) continue
    if (inputFlags.test(flag))
      i++ // and its value
    else kept.push(flag)
  }
  return kept
}

/** Starts the tinypool behind a Threadpool with `settings`; its threads talk on `channel`. */
export function startTinypool(settings: ThreadpoolSettings, channel: SideChannel): Tinypool {
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
