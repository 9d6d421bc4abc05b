// The options of BullmqBackgroundTasks and of its add(), and their validation: every error names
// the option and shows the value received.

import { inspect } from 'node:util'
import type { TaskAddOptions, TaskDefinition } from '@taskscope/core'
import { codedError, errorCodes, isTaskDefinition } from '@taskscope/core/adapter'
import type { RedisConnection } from './connection.js'
import type { PostgresConnection } from './postgres-store.js'
import { type ResolvedStore, resolveStore, type StoreKind } from './store.js'

/** Options of {@link BullmqBackgroundTasks}. */
export interface BullmqBackgroundTasksOptions {
  /**
   * Where the jobs live, the same for every process of the app: Redis (a `redis://` URL or ioredis
   * options) or PostgreSQL (a `postgres://` URL, a `pg.Pool`, or node-postgres pool settings with
   * `store: 'postgres'`). On PostgreSQL, BullMQ's schema must exist: run BullMQ's `runMigrations`
   * once at deploy (or pass pool settings with `migrate: true`).
   */
  connection: RedisConnection | PostgresConnection
  /**
   * The store: `'redis'` or `'postgres'`. Default: `'postgres'` for a `postgres://` URL or a
   * `pg.Pool`, else `'redis'` (pool settings, an object, need `store: 'postgres'`).
   */
  store?: StoreKind
  /** The BullMQ queue's name, shared by every process of the app. Default: `'taskscope'`. */
  queue?: string
  /** BullMQ's key prefix (Redis only: on PostgreSQL the schema is the namespace). Default: `'bull'`. */
  prefix?: string
  /** The tasks this process can run (and read back by name). Default: none. */
  tasks?: readonly TaskDefinition[]
  /** Jobs this process runs at once; 0: it only adds and reads. Default: 1 when `tasks` is not empty, else 0. */
  concurrency?: number
  /**
   * Called in the process that ran a job with each failed attempt, and with store trouble (a lost
   * connection, the store down at start) with `task` undefined. Default: `console.error`.
   */
  onError?: (error: unknown, task: { id: string; name: string } | undefined) => void
  /** BullMQ's `lockDuration` (ms): a running job whose process stops renewing its lock this long is stalled. Default: 30000. */
  lockDuration?: number
  /** BullMQ's `stalledInterval` (ms): how often stalled jobs are looked for and returned to the queue. Default: 30000. */
  stalledInterval?: number
  /** BullMQ's `maxStalledCount`: how many times a job may stall before it fails. Default: 1. */
  maxStalledCount?: number
  /** Finished jobs kept in Redis for `get()` (BullMQ's `removeOnComplete` / `removeOnFail` counts). Default: 1000 / 5000. */
  keep?: { completed?: number; failed?: number }
}

export type OnError = NonNullable<BullmqBackgroundTasksOptions['onError']>

/** The `onError` default: one line on stderr. */
export const defaultOnError: OnError = (error, task) => {
  const what = task === undefined ? 'the background queue' : `background task "${task.name}" (${task.id})`
  console.error(`taskscope: ${what} failed:`, error)
}

/** {@link BullmqBackgroundTasksOptions}, checked, with the defaults filled in. */
export interface RegistrySettings {
  connection: ResolvedStore
  queue: string
  prefix: string
  definitions: Map<string, TaskDefinition>
  concurrency: number
  onError: OnError
  keep: { completed: number; failed: number }
  lockDuration: number | undefined
  stalledInterval: number | undefined
  maxStalledCount: number | undefined
}

/** Checks the options of BullmqBackgroundTasks (without touching the caller's object) and fills in the defaults. */
export function registrySettings(options: BullmqBackgroundTasksOptions): RegistrySettings {
  if (options === undefined) throw invalidType('The BullmqBackgroundTasks options', 'an object with a "connection"', options)
  const opts = copyOptions(options, 'The BullmqBackgroundTasks options')
  if (opts.store !== undefined && opts.store !== 'redis' && opts.store !== 'postgres')
    throw invalidValue('The "store" option', "'redis' or 'postgres'", opts.store)
  const connection = resolveStore(opts.connection, opts.store)
  const queue = stringOption(opts.queue, 'The "queue" option') ?? 'taskscope'
  const prefix = stringOption(opts.prefix, 'The "prefix" option') ?? 'bull'
  const definitions = definitionsOption(opts.tasks)
  const concurrency = integerOption(opts.concurrency, 'The "concurrency" option', 0) ?? (definitions.size > 0 ? 1 : 0)
  if (opts.onError !== undefined && typeof opts.onError !== 'function')
    throw invalidType('The "onError" option', 'a function', opts.onError)
  const keep = copyOptions(opts.keep, 'The "keep" option')
  return {
    connection,
    queue,
    prefix,
    definitions,
    concurrency,
    onError: opts.onError ?? defaultOnError,
    keep: {
      completed: integerOption(keep.completed, 'The "keep.completed" option', 0) ?? 1000,
      failed: integerOption(keep.failed, 'The "keep.failed" option', 0) ?? 5000,
    },
    lockDuration: integerOption(opts.lockDuration, 'The "lockDuration" option', 1),
    stalledInterval: integerOption(opts.stalledInterval, 'The "stalledInterval" option', 1),
    maxStalledCount: integerOption(opts.maxStalledCount, 'The "maxStalledCount" option', 0),
  }
}

/** Retry delays between attempts: a fixed number of milliseconds, or BullMQ's own backoff settings. */
export type BullmqBackoff = number | { type: 'fixed' | 'exponential'; delay: number; jitter?: number }

/** Options of {@link BullmqBackgroundTasks.add}. */
export interface BullmqAddOptions extends TaskAddOptions {
  /**
   * The BullMQ job id (the handle's `id`): a non-empty string, not an integer, without `:`.
   * Adding an id that exists in the queue returns that job instead of adding another.
   * Default: a random UUID.
   */
  id?: string
  /** How many times the job may run before it fails for good (BullMQ's `attempts`). Default: 1. */
  attempts?: number
  /** The delay between attempts (BullMQ's `backoff`). Default: none. */
  backoff?: BullmqBackoff
}

const show = (value: unknown): string => {
  if (typeof value === 'function') return `function ${value.name || '(anonymous)'}`
  const shown = inspect(value, { depth: 0, breakLength: Infinity, maxArrayLength: 3, maxStringLength: 40 })
  return typeof value === 'object' || value === undefined ? shown : `${shown} (${typeof value})`
}

export const invalidType = (what: string, expected: string, value: unknown): TypeError =>
  codedError(TypeError, errorCodes.invalidArgType, `${what} must be ${expected}. Received ${show(value)}`)

export const invalidValue = (what: string, expected: string, value: unknown): TypeError =>
  codedError(TypeError, errorCodes.invalidArgValue, `${what} must be ${expected}. Received ${show(value)}`)

const outOfRange = (what: string, expected: string, value: unknown): RangeError =>
  codedError(RangeError, errorCodes.outOfRange, `${what} must be ${expected}. Received ${show(value)}`)

/** Copies a caller's options bag after checking it is an object. */
export function copyOptions<T extends object>(options: T | undefined, what: string): Partial<T> {
  if (options === undefined) return {}
  if (typeof options !== 'object' || options === null || Array.isArray(options)) throw invalidType(what, 'an object', options)
  return { ...options }
}

export function integerOption(value: unknown, what: string, min: number): number | undefined {
  if (value === undefined) return undefined
  if (typeof value !== 'number') throw invalidType(what, 'a number', value)
  if (!Number.isInteger(value) || value < min || value > 2 ** 31 - 1)
    throw outOfRange(what, `an integer from ${min} to ${2 ** 31 - 1}`, value)
  return value
}

/** A duration in ms for shutdown: an integer from 0, or Infinity (wait as long as it takes). */
export function durationOption(value: unknown, what: string): number | undefined {
  return value === Infinity ? Infinity : integerOption(value, what, 0)
}

export function stringOption(value: unknown, what: string): string | undefined {
  if (value === undefined) return undefined
  if (typeof value !== 'string' || value === '') throw invalidType(what, 'a non-empty string', value)
  return value
}

/** A BullMQ custom job id: a non-empty string, not an integer (BullMQ's own ids), without `:` (its key separator). */
export function jobIdOption(value: unknown): string | undefined {
  if (value === undefined) return undefined
  if (typeof value !== 'string') throw invalidType('The "id" option', 'a non-empty string', value)
  if (value === '' || String(Number.parseInt(value, 10)) === value || value.includes(':')) {
    throw invalidValue('The "id" option', 'a non-empty string that is not an integer and has no ":"', value)
  }
  return value
}

export function backoffOption(value: unknown): BullmqBackoff | undefined {
  if (value === undefined || typeof value === 'number') return integerOption(value, 'The "backoff" option', 0)
  const { type, delay, jitter } = copyOptions(value as Exclude<BullmqBackoff, number>, 'The "backoff" option')
  if (type !== 'fixed' && type !== 'exponential') throw invalidValue('The "backoff.type" option', "'fixed' or 'exponential'", type)
  integerOption(delay, 'The "backoff.delay" option', 0)
  if (jitter !== undefined && (typeof jitter !== 'number' || !(jitter >= 0 && jitter <= 1))) {
    throw outOfRange('The "backoff.jitter" option', 'a number from 0 to 1', jitter)
  }
  return { type, delay: delay ?? 0, ...(jitter === undefined ? {} : { jitter }) }
}

/** The `tasks` option: definitions with distinct names, by name. */
export function definitionsOption(value: unknown): Map<string, TaskDefinition> {
  const definitions = new Map<string, TaskDefinition>()
  if (value === undefined) return definitions
  if (!Array.isArray(value)) throw invalidType('The "tasks" option', 'an array of defineTask() tasks', value)
  for (const [index, task] of value.entries()) {
    if (!isTaskDefinition(task)) throw invalidType(`The "tasks[${index}]" option`, 'a defineTask() task', task)
    const other = definitions.get(task.name)
    if (other !== undefined && other !== task)
      throw invalidValue(`The "tasks[${index}]" option`, `a task whose name is not already taken ("${task.name}")`, task)
    definitions.set(task.name, task)
  }
  return definitions
}
