// The options of BullmqBackgroundTasks and of its add(), and their validation: every error names
// the option and shows the value received.

import type { TaskAddOptions, TaskDefinition } from '@taskscope/core'
import {
  copyOptions,
  invalidType,
  invalidValue,
  isTaskDefinition,
  outOfRange,
  validateFunction,
  validateInteger,
  validateString,
} from '@taskscope/core/adapter'
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
   * The store: `'redis'` or `'postgres'` (pool settings, an object, need `store: 'postgres'`).
   * @default `'postgres'` for a `postgres://` URL or a `pg.Pool`, else `'redis'`
   */
  store?: StoreKind
  /**
   * The BullMQ queue's name, shared by every process of the app.
   * @default `'taskscope'`
   */
  queue?: string
  /**
   * BullMQ's key prefix (Redis only: on PostgreSQL the schema is the namespace).
   * @default `'bull'`
   */
  prefix?: string
  /**
   * The tasks this process can run (and read back by name).
   * @default none
   */
  tasks?: readonly TaskDefinition[]
  /**
   * Jobs this process runs at once; 0: it only adds and reads.
   * @default 1 when `tasks` is not empty, else 0
   */
  concurrency?: number
  /**
   * Called in the process that ran a job with each failed attempt, and with store trouble (a lost
   * connection, the store down at start) with `task` undefined.
   * @default `console.error`
   */
  onError?: (error: unknown, task: { id: string; name: string } | undefined) => void
  /**
   * BullMQ's `lockDuration` (ms): a running job whose process stops renewing its lock this long is stalled.
   * @default 30000
   */
  lockDuration?: number
  /**
   * BullMQ's `stalledInterval` (ms): how often stalled jobs are looked for and returned to the queue.
   * @default 30000
   */
  stalledInterval?: number
  /**
   * BullMQ's `maxStalledCount`: how many times a job may stall before it fails.
   * @default 1
   */
  maxStalledCount?: number
  /**
   * Finished jobs kept in Redis for `get()` (BullMQ's `removeOnComplete` / `removeOnFail` counts).
   * @default 1000 / 5000
   */
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
  const queue = validateString(opts.queue, 'The "queue" option', true) ?? 'taskscope'
  const prefix = validateString(opts.prefix, 'The "prefix" option', true) ?? 'bull'
  const definitions = definitionsOption(opts.tasks)
  const concurrency = integerOption(opts.concurrency, 'The "concurrency" option', 0) ?? (definitions.size > 0 ? 1 : 0)
  const onError = opts.onError === undefined ? defaultOnError : validateFunction<OnError>(opts.onError, 'The "onError" option')
  const keep = copyOptions(opts.keep, 'The "keep" option')
  return {
    connection,
    queue,
    prefix,
    definitions,
    concurrency,
    onError,
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
   * @default a random UUID
   */
  id?: string
  /**
   * How many times the job may run before it fails for good (BullMQ's `attempts`).
   * @default 1
   */
  attempts?: number
  /**
   * The delay between attempts (BullMQ's `backoff`).
   * @default none
   */
  backoff?: BullmqBackoff
}

/** An integer from `min` to 2^31-1 (what BullMQ's counts and delays take). */
export function integerOption(value: unknown, what: string, min: number): number | undefined {
  return validateInteger(value, what, min, false, 2 ** 31 - 1)
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
