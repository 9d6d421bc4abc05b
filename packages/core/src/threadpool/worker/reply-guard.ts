// Between our worker entry and tinypool's worker, which posts each task's reply. Two jobs:
// - A result that structured clone refuses makes tinypool's `port.postMessage(reply)` throw; the
//   throw would kill the thread with an empty error. The guard retries such a reply (only replies
//   our entry made) as a clear ERR_THREADPOOL_DATA_CLONE error, and the thread lives on.
// - tinypool reads `process.memoryUsage().heapUsed` for every reply and replaces a thread whose
//   reading is above `maxMemoryLimitBeforeRecycle` (set to Number.MAX_VALUE by the pool): that is
//   how a thread a task left a stray behind in is replaced after its answer (see `retire`).
//
// Where the pool could start its threads with preload.ts (an `--import` preload, see
// ../launch.ts), the preload hands tinypool a `process.memoryUsage` that costs nothing (the real
// one takes 10-20 µs, most of a no-op task) and guards tinypool's own port; the entry restores the
// real `process.memoryUsage` before any task runs, so no code of the user sees either. Elsewhere
// the entry guards `MessagePort.prototype.postMessage` and rewrites the reading in the reply.
import type { MessagePort, TransferListItem } from 'node:worker_threads'
import { codedError, errorCodes } from '../../errors.js'
import { isBareValue, type PackedReply, type TaskReply } from '../protocol.js'
import { serializeThrown } from '../remote-error.js'

/** Every reply our entry made but a bare value, with its task's name (to explain a result that cannot be cloned). */
export const replies = new WeakMap<object, string>()
/** Set once the thread must be replaced after its next answer. */
let retiring = false

/**
 * The packed reply of a task that answered `value` (see PackedReply in ../protocol.ts): the value
 * itself when it is bare (it always clones), else `[value]`, remembered for the guard. A thread
 * that is retiring always sends a remembered reply, so that the guard can mark its reading.
 */
export function packValue(value: unknown, name: string): PackedReply {
  if (!retiring && isBareValue(value)) return value
  const packed: [unknown] = [value]
  replies.set(packed, name)
  return packed
}
/** True when preload.ts ran in this thread. */
let preloaded = false

/** Replaces this thread after its current (or next) answer, through tinypool's memory recycling. */
export function retire(): void {
  retiring = true
}

const realMemoryUsage = process.memoryUsage
/** What tinypool reads instead of `process.memoryUsage()` while the preload is in place. */
function memoryUsage(): NodeJS.MemoryUsage {
  return { rss: 0, heapTotal: 0, heapUsed: retiring ? Infinity : 0, external: 0, arrayBuffers: 0 }
}
memoryUsage.rss = (): number => 0

type PostMessage = (this: MessagePort, value: unknown, transferList?: readonly TransferListItem[]) => void

/** `postMessage` of a port tinypool posts replies on, guarded (see above). */
function guard(postMessage: PostMessage, rewriteReading: boolean): PostMessage {
  return function (this: MessagePort, value, transferList) {
    const response = value as { result?: unknown } | null
    const name = typeof response?.result === 'object' && response.result !== null ? replies.get(response.result) : undefined
    if (rewriteReading && name !== undefined && retiring) value = { ...response, usedMemory: Infinity }
    try {
      return postMessage.call(this, value, transferList)
    } catch (error) {
      if (name === undefined || (error as { name?: unknown } | null)?.name !== 'DataCloneError') throw error
      const message = `The result of the Threadpool task "${name}" could not be cloned back to the main thread: ${(error as Error).message}`
      const failure = codedError(TypeError, errorCodes.threadpoolDataClone, message, { cause: error })
      const result: TaskReply = { ok: false, error: serializeThrown(failure) }
      return postMessage.call(this, { ...(value as object), result }, [])
    }
  }
}

/** Run by preload.ts before tinypool's worker loads: tinypool binds the cheap reading; `port` is tinypool's. */
export function preload(hookPort: (guardPort: (port: MessagePort) => void) => void): void {
  preloaded = true
  process.memoryUsage = memoryUsage
  hookPort((port) => {
    port.postMessage = guard(port.postMessage, false)
  })
}

/** Run by the entry when it loads, before any task: puts the real `process.memoryUsage` back, or installs the fallback guard. */
export function installGuard(prototype: { postMessage: PostMessage }): void {
  if (preloaded) process.memoryUsage = realMemoryUsage
  else prototype.postMessage = guard(prototype.postMessage, true)
}
