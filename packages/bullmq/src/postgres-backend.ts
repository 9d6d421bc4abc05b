// BullMQ's PostgreSQL backend, with one correction: a query that fails because PostgreSQL went
// away or is not accepting connections yet (killed, restarting, in crash recovery) throws BullMQ's
// ConnectionClosedError, which BullMQ's classes retry, as they do for Redis. The backend throws
// node-postgres' own errors ("the database system is not yet accepting connections", 57P03;
// "Connection terminated unexpectedly"), which BullMQ took for a failure of the operation: a
// job whose end could not be recorded while PostgreSQL restarted was then failed with that
// message, though it had run to its end.
import { type BackendFactory, ConnectionClosedError, createPostgresBackend, type RedisQueueBackend } from 'bullmq'
import { isPostgresConnectionError } from './postgres-connection-error.js'

/** The error BullMQ retries, keeping the original's message, code and (as `cause`) the original. */
function asConnectionClosed(error: unknown): unknown {
  if (error instanceof ConnectionClosedError || !isPostgresConnectionError(error)) return error
  const closed = new ConnectionClosedError((error as Error).message, error as Error)
  const code = (error as { code?: unknown }).code
  if (code !== undefined) Object.defineProperty(closed, 'code', { value: code, enumerable: true, configurable: true, writable: true })
  return closed
}

/** Makes every method of the backend's own class report connection errors as ConnectionClosedError. */
function correct<T extends object>(backend: T): T {
  const prototype = Object.getPrototypeOf(backend) as object
  for (const key of Object.getOwnPropertyNames(prototype)) {
    const descriptor = Object.getOwnPropertyDescriptor(prototype, key)
    if (key === 'constructor' || typeof descriptor?.value !== 'function') continue
    const method = descriptor.value as (...args: unknown[]) => unknown
    const wrapped = function (this: unknown, ...args: unknown[]): unknown {
      let result: unknown
      try {
        result = method.apply(this, args)
      } catch (error) {
        throw asConnectionClosed(error)
      }
      // A sibling backend for another queue (flows) gets the same correction.
      if (result instanceof backend.constructor) return correct(result as object)
      if (result instanceof Promise)
        return result.catch((error: unknown) => {
          throw asConnectionClosed(error)
        })
      return result
    }
    Object.defineProperty(backend, key, { value: wrapped, writable: true, configurable: true, enumerable: false })
  }
  return backend
}

/** BullMQ's PostgreSQL backend factory, its connection errors the ones BullMQ retries. */
export const postgresBackend = ((...args: Parameters<typeof createPostgresBackend>) =>
  correct(createPostgresBackend(...args))) as unknown as BackendFactory<RedisQueueBackend>
