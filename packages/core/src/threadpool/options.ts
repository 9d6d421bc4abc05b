// Threadpool options: validation (every error names the option and shows the value) and defaults.
import { availableParallelism } from 'node:os'
import { MessagePort, type ResourceLimits, type TransferListItem } from 'node:worker_threads'
import type { ThreadpoolOptions, ThreadpoolSettings } from './types.js'
import { copyOptions, invalidType, outOfRange, validateDuration, validateInteger } from '../internal/validation.js'

/** Queued tasks allowed per thread by default (see README-threadpool.md, "Options"). */
export const queuePerThread = 64
/** `setTimeout`'s largest delay: an `idleTimeout` of Infinity keeps idle threads this long. */
const maxDelay = 2 ** 31 - 1
const limitKeys = ['maxOldGenerationSizeMb', 'maxYoungGenerationSizeMb', 'codeRangeSizeMb', 'stackSizeMb'] as const

function validateLimits(value: unknown): ResourceLimits | undefined {
  if (value === undefined) return undefined
  const limits = copyOptions(value as ResourceLimits, 'The "resourceLimits" option')
  const copy: ResourceLimits = {}
  for (const key of limitKeys) {
    const limit = limits[key]
    if (limit === undefined) continue
    if (typeof limit !== 'number' || Number.isNaN(limit)) throw invalidType(`The "resourceLimits.${key}" option`, 'a number', limit)
    if (!(limit > 0 && limit < Infinity)) throw outOfRange(`The "resourceLimits.${key}" option`, 'a positive number', limit)
    copy[key] = limit
  }
  return copy
}

/** Validates Threadpool options; returns a copy holding only the options given. Throws TypeError/RangeError. */
export function validatePoolOptions(options: unknown, what: string): ThreadpoolOptions {
  const opts = copyOptions(options as ThreadpoolOptions | undefined, what)
  const minThreads = validateInteger(opts.minThreads, 'The "minThreads" option', 0)
  const maxThreads = validateInteger(opts.maxThreads, 'The "maxThreads" option', 1)
  if (minThreads !== undefined && maxThreads !== undefined && minThreads > maxThreads) {
    throw outOfRange('The "minThreads" option', `at most the "maxThreads" option (${maxThreads})`, minThreads)
  }
  const idleTimeout = opts.idleTimeout === Infinity ? Infinity : validateDuration(opts.idleTimeout, 'The "idleTimeout" option')
  const maxQueue = validateInteger(opts.maxQueue, 'The "maxQueue" option', 0, true)
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
