// Where the jobs live: Redis or PostgreSQL, the two stores BullMQ runs on. What differs between
// them sits behind `Store`: the connection (and its safe name for messages), whether the store
// answers, the id of the queue's latest event, and the messages between the processes of a queue
// (cancel requests, removal notices); redis-store.ts and postgres-store.ts implement it.
import type { BackendFactory, ConnectionOptions, RedisQueueBackend } from 'bullmq'
import { type ResolvedConnection, resolveConnection } from './connection.js'
import type { OnError } from './options.js'
import {
  isPostgresConnection,
  openPostgresStore,
  type PostgresConnection,
  type ResolvedPostgres,
  resolvePostgres,
} from './postgres-store.js'
import { openRedisStore } from './redis-store.js'

/** Which store a queue lives in. */
export type StoreKind = 'redis' | 'postgres'

/** The `connection` option resolved: for which store, and how to reach it. */
export type ResolvedStore = ({ kind: 'redis' } & ResolvedConnection) | ResolvedPostgres

/**
 * A message between the processes of a queue: a cancel request, the notice that a job was
 * removed, or that a job's attempt ended (where the store's events may miss it).
 */
export interface JobMessage {
  id: string
  reason: string | undefined
  /** When the job it is for was added (BullMQ's `timestamp`): a later job reusing the id is not concerned. */
  addedAt?: number | undefined
}

/** The topics of {@link JobMessage}s. */
export type JobTopic = 'cancel' | 'removed' | 'finished'

/** The store as the registry, its runner and its events use it. */
export interface Store {
  readonly kind: StoreKind
  /** The connection for messages, with the password hidden (`postgres://app:***@db:5432/jobs`). */
  readonly label: string
  /** What BullMQ's Queue, Worker and QueueEvents get: their `connection` option and their backend factory. */
  readonly connection: ConnectionOptions
  // Typed as BullMQ's default (Redis) backend, as our Queue/Worker/QueueEvents fields are: the
  // calls we make are the datastore-agnostic ones both backends implement.
  readonly backend: BackendFactory<RedisQueueBackend>
  /** True while the store is known to answer. */
  readonly ready: boolean
  /** Resolves once the store answers; rejects with `ERR_QUEUE_UNAVAILABLE`, naming the store, when it does not. */
  connected(): Promise<void>
  /** `error` as ERR_QUEUE_UNAVAILABLE naming the store (with `error` as its cause). */
  unavailable(error: unknown): Error
  /** A call to the store failed: a lost connection becomes ERR_QUEUE_UNAVAILABLE (and is noted), anything else is rethrown as is. */
  readonly failure: (error: unknown) => never
  /** The id of the queue's latest event: events are read from there on, so none is missed. */
  lastEventId(): Promise<string>
  /** Sends a message to every process of the queue that listens to `topic`. */
  publish(topic: JobTopic, message: JobMessage): Promise<void>
  /** Listens to `topic`; resolves once listening (with the means to stop). */
  subscribe(topic: JobTopic, listener: (message: JobMessage) => void): Promise<() => Promise<void>>
  /** Store trouble: reported to `onError` once per kind until the store answers again, never thrown. */
  readonly trouble: (error: unknown) => void
  /** From now on the connection closing is expected: it is not reported as lost. */
  closing(): void
  /** Closes the store's own connections within `ms`; `away`: the store does not answer, do not wait for it. */
  close(away: boolean, ms: number): Promise<void>
}

/** Reads the `connection` option (and `store`, when the connection alone cannot tell). */
export function resolveStore(connection: unknown, store: StoreKind | undefined): ResolvedStore {
  if (store === 'postgres' || (store === undefined && isPostgresConnection(connection))) return resolvePostgres(connection)
  return { kind: 'redis', ...resolveConnection(connection) }
}

/** Opens the store of one queue; `back` is called each time it answers again after it was lost. */
export function openStore(resolved: ResolvedStore, queue: string, prefix: string, onError: OnError, back: () => void): Store {
  return resolved.kind === 'postgres'
    ? openPostgresStore(resolved, queue, onError, back)
    : openRedisStore(resolved, queue, prefix, onError, back)
}

/** Reads a message of a topic; undefined for anything that is not a {@link JobMessage}. */
export function parseJobMessage(value: unknown): JobMessage | undefined {
  let message = value
  if (typeof message === 'string') {
    try {
      message = JSON.parse(message)
    } catch {
      return undefined
    }
  }
  const { id, reason, addedAt } = (message ?? {}) as { id?: unknown; reason?: unknown; addedAt?: unknown }
  if (typeof id !== 'string') return undefined
  return { id, reason: typeof reason === 'string' ? reason : undefined, addedAt: typeof addedAt === 'number' ? addedAt : undefined }
}

export type { PostgresConnection }
