// Threadpool options: validation (every error names the option and shows the value) and defaults.
import { availableParallelism } from 'node:os'
import { MessagePort, type ResourceLimits, type TransferListItem } from 'node:worker_threads'
import {
  copyOptions,
  invalidType,
  outOfRange,
  validateDuration,
  validateInteger,
  validateSignal,
  validateTimeLimit,
} from '../internal/validation.js'
import type { ThreadpoolCloseOptions, ThreadpoolOptions, ThreadpoolRunOptions, ThreadpoolSettings } from './types.js'

/** Queued tasks allowed per thread by default (the `maxQueue` option). */
export const queuePerThread = 64
/** `setTimeout`'s largest delay: an `idleTimeout` of Infinity keeps idle threads this long. */
const maxDelay = 2 ** 31 - 1
/**
 * The most threads a pool may have (`minThreads`, `maxThreads`). Each thread costs ~10 MB and
 * 30–70 ms to start, and past the number of cores more threads only contend for them.
 */
export const maxThreadsLimit = 1024
/** Range of each `resourceLimits` field, in MB. */
const limitRanges = {
  // Memory sizes up to 1 TiB: a larger number is almost surely bytes given as MB. Past it, V8
  // aborts the whole process for `codeRangeSizeMb` ("Failed to reserve virtual memory").
  maxOldGenerationSizeMb: { min: 0, max: 1_048_576, exclusiveMin: true },
  maxYoungGenerationSizeMb: { min: 0, max: 1_048_576, exclusiveMin: true },
  codeRangeSizeMb: { min: 0, max: 1_048_576, exclusiveMin: true },
  // Below 1 MB a thread cannot load its code; past 256 MB it never starts (or creation fails with EAGAIN).
  stackSizeMb: { min: 1, max: 256, exclusiveMin: false },
} as const

function validateLimits(value: unknown): ResourceLimits | undefined {
  if (value === undefined) return undefined
  const limits = copyOptions(value as ResourceLimits, 'The "resourceLimits" option')
  const copy: ResourceLimits = {}
  for (const [key, { min, max, exclusiveMin }] of Object.entries(limitRanges) as Array<
    [keyof ResourceLimits, (typeof limitRanges)['stackSizeMb']]
  >) {
    const limit = limits[key]
    if (limit === undefined) continue
    const what = `The "resourceLimits.${key}" option`
    if (typeof limit !== 'number' || Number.isNaN(limit)) throw invalidType(what, 'a number', limit)
    if (!((exclusiveMin ? limit > min : limit >= min) && limit <= max)) {
      throw outOfRange(what, `a number of MB ${exclusiveMin ? `above ${min}` : `from ${min}`} ${exclusiveMin ? 'up ' : ''}to ${max}`, limit)
    }
    copy[key] = limit
  }
  return copy
}

/** A thread count: an integer from `min` to {@link maxThreadsLimit}. */
function validateThreads(value: unknown, what: string, min: number): number | undefined {
  const threads = validateInteger(value, what, min)
  if (threads !== undefined && threads > maxThreadsLimit) throw outOfRange(what, `an integer from ${min} to ${maxThreadsLimit}`, threads)
  return threads
}

/** Validates Threadpool options; returns a copy holding only the options given. Throws TypeError/RangeError. */
export function validatePoolOptions(options: unknown, what: string): ThreadpoolOptions {
  const opts = copyOptions(options as ThreadpoolOptions | undefined, what)
  const minThreads = validateThreads(opts.minThreads, 'The "minThreads" option', 0)
  const maxThreads = validateThreads(opts.maxThreads, 'The "maxThreads" option', 1)
  if (minThreads !== undefined && maxThreads !== undefined && minThreads > maxThreads) {
    throw outOfRange('The "minThreads" option', `at most the "maxThreads" option (${maxThreads})`, minThreads)
  }
  const idleTimeout = validateTimeLimit(opts.idleTimeout, 'The "idleTimeout" option')
  const maxQueue = validateInteger(opts.maxQueue, 'The "maxQueue" option', 0, true)
  if (maxQueue !== undefined && maxQueue !== Infinity && !Number.isSafeInteger(maxQueue)) {
    throw outOfRange('The "maxQueue" option', `an integer from 0 to ${Number.MAX_SAFE_INTEGER}, or Infinity`, maxQueue)
  }
  const resourceLimits = validateLimits(opts.resourceLimits)
  const copy: ThreadpoolOptions = {}
  if (minThreads !== undefined) copy.minThreads = minThreads
  if (maxThreads !== undefined) copy.maxThreads = maxThreads
  if (idleTimeout !== undefined) copy.idleTimeout = idleTimeout
  if (maxQueue !== undefined) copy.maxQueue = maxQueue
  if (resourceLimits !== undefined) copy.resourceLimits = resourceLimits
  return copy
}

/**
 * Defaults for a web server: leave one core to the event loop (`maxThreads`), keep one warm thread
 * (`minThreads`; idle threads are unref'd, so it never keeps the process alive), keep extra threads
 * for 30 s (tinypool's 0 respawns a thread per burst), and bound the queue (`maxQueue`).
 */
export function resolvePoolOptions(options: ThreadpoolOptions): ThreadpoolSettings {
  const maxThreads = options.maxThreads ?? Math.max(1, availableParallelism() - 1, options.minThreads ?? 0)
  const idleTimeout = options.idleTimeout ?? 30_000
  return {
    minThreads: options.minThreads ?? Math.min(1, maxThreads),
    maxThreads,
    idleTimeout: idleTimeout === Infinity ? maxDelay : idleTimeout,
    maxQueue: options.maxQueue ?? queuePerThread * maxThreads,
    resourceLimits: options.resourceLimits,
  }
}

/** The `transfer` run option: ArrayBuffers (not views, not shared) and MessagePorts. */
export function validateTransfer(value: unknown): TransferListItem[] | undefined {
  if (value === undefined) return undefined
  if (!Array.isArray(value)) throw invalidType('The "transfer" option', 'an array of ArrayBuffers and MessagePorts', value)
  value.forEach((item: unknown, index) => {
    if (item instanceof ArrayBuffer || item instanceof MessagePort) return
    const hint = ArrayBuffer.isView(item) ? ' (pass view.buffer, the ArrayBuffer behind the view)' : ''
    throw invalidType(`The "transfer[${index}]" option`, `an ArrayBuffer or a MessagePort${hint}`, item)
  })
  return [...value] as TransferListItem[]
}

/** The options of one `run` call, validated (a copy; the caller's object is left alone). */
export function validateRunOptions(options: ThreadpoolRunOptions | undefined): {
  signal?: AbortSignal | undefined
  timeout?: number | undefined
  grace?: number | undefined
  transfer?: TransferListItem[] | undefined
} {
  if (options === undefined) return {}
  const opts = copyOptions(options, 'The run options')
  return {
    signal: validateSignal(opts.signal, 'The "signal" option'),
    timeout: validateDuration(opts.timeout, 'The "timeout" option'),
    grace: validateTimeLimit(opts.grace, 'The "grace" option'),
    transfer: validateTransfer(opts.transfer),
  }
}

/** The `timeout` of `close(options)`, validated. */
export function validateCloseOptions(options: ThreadpoolCloseOptions | undefined): number | undefined {
  return validateDuration(copyOptions(options, 'The close options').timeout, 'The "timeout" option')
}
