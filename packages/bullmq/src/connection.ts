// The Redis connection: one description of it for every client (BullMQ's and our own), a safe
// name for error messages, and the check that Redis answers at start.

import { codedError, errorCodes } from '@taskscope/core/adapter'
import type { ConnectionOptions } from 'bullmq'
import { Redis, type RedisOptions } from 'ioredis'

/** Where Redis is: a `redis://` (or `rediss://`) URL, or ioredis options. */
export type RedisConnection = string | RedisOptions

export interface ResolvedConnection {
  /** What BullMQ's Queue, Worker and QueueEvents get (each opens its own clients from it). */
  readonly options: ConnectionOptions
  /** The connection for messages, with the password hidden: `redis://127.0.0.1:6379`. */
  readonly label: string
  /** A new client of our own (BullMQ's defaults: retry forever, at most every 20 s). */
  create(extra?: RedisOptions): Redis
}

const retryStrategy = (times: number): number => Math.max(Math.min(Math.exp(times), 20_000), 1_000)

export function resolveConnection(connection: unknown): ResolvedConnection {
  if (typeof connection === 'string') {
    let url: URL
    try {
      url = new URL(connection)
    } catch {
      throw codedError(
        TypeError,
        errorCodes.invalidArgValue,
        `The "connection" option must be a redis:// URL or ioredis options. Received '${connection}'`,
      )
    }
    if (url.protocol !== 'redis:' && url.protocol !== 'rediss:') {
      throw codedError(
        TypeError,
        errorCodes.invalidArgValue,
        `The "connection" option must be a redis://, rediss://, postgres:// or postgresql:// URL. Received '${url.protocol}' URL`,
      )
    }
    if (url.password !== '') url.password = '***'
    const label = url.href.replace(/\/$/, '')
    return {
      options: { url: connection } as ConnectionOptions,
      label,
      create: (extra) => new Redis(connection, { retryStrategy, ...extra }),
    }
  }
  if (typeof connection !== 'object' || connection === null || Array.isArray(connection) || connection instanceof Redis) {
    throw codedError(TypeError, errorCodes.invalidArgType, 'The "connection" option must be a redis:// URL or ioredis options (an object)')
  }
  const options = { ...(connection as RedisOptions) }
  const label = options.path ?? `redis://${options.host ?? '127.0.0.1'}:${options.port ?? 6379}${options.db ? `/${options.db}` : ''}`
  return { options: options as ConnectionOptions, label, create: (extra) => new Redis({ retryStrategy, ...options, ...extra }) }
}

/**
 * Resolves once `client` is connected; rejects with a coded error (`ERR_QUEUE_UNAVAILABLE`)
 * naming the connection at its first failure before that (Redis down, wrong host, refused auth).
 */
export function firstConnection(client: Redis, label: string, queue: string): Promise<void> {
  return new Promise((resolve, reject) => {
    const onReady = (): void => {
      client.off('error', onError)
      resolve()
    }
    const onError = (error: Error): void => {
      client.off('ready', onReady)
      reject(
        codedError(
          Error,
          errorCodes.queueUnavailable,
          `Cannot reach Redis at ${label} for the background queue "${queue}": ${error.message}`,
          {
            cause: error,
          },
        ),
      )
    }
    client.once('ready', onReady)
    client.once('error', onError)
  })
}

/** Closes a client of ours: politely when connected, at once when not (QUIT would wait for a reconnect). */
export async function closeClient(client: Redis): Promise<void> {
  if (client.status !== 'ready') return client.disconnect()
  await client.quit().catch(() => client.disconnect())
}

/** Errors of a connection going down or not coming up: reported once, as our own coded error, not each time. */
const connectionCodes = new Set(['ECONNREFUSED', 'ECONNRESET', 'ENOTFOUND', 'ETIMEDOUT', 'EHOSTUNREACH', 'EPIPE'])
export function isConnectionError(error: unknown): boolean {
  const code = (error as { code?: unknown } | null)?.code
  return (typeof code === 'string' && connectionCodes.has(code)) || (error instanceof Error && error.message === 'Connection is closed.')
}
