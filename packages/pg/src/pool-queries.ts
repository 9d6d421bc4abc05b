// A pg.Pool whose clients are cancellable, and whose `pool.query()` gives a cancelled query's
// client back to the pool instead of destroying it (pg-pool releases its client *with* the query's
// error, and a client released with an error is closed).
import { currentSignal } from '@taskscope/core'
import { cancellationOf, isCancellationOf } from './cancellation.js'
import { guardClient, type PgClient, queryUnderSignal } from './client-queries.js'

/** A client checked out of a pg.Pool. */
interface PoolClient extends PgClient {
  release(error?: Error | boolean): void
}

type ConnectCallback = (error: Error | undefined, client?: PoolClient, release?: (error?: Error | boolean) => void) => void

/** A pg-pool `Pool` as far as this module needs it. */
export interface PgPool {
  connect(callback?: ConnectCallback): unknown
  query(...args: unknown[]): unknown
}

const kPool = Symbol('taskscope.pg.pool')

/** Whether this pool is already cancellable. */
export function isGuardedPool(pool: object): boolean {
  return Object.hasOwn(pool, kPool)
}

/** Gets a client of the pool, unless `signal` aborts first (a client that arrives later goes straight back). */
function connectUnlessAborted(connect: PgPool['connect'], pool: PgPool, signal: AbortSignal): Promise<PoolClient> {
  return new Promise((resolve, reject) => {
    let gaveUp = false
    const onAbort = (): void => {
      gaveUp = true
      reject(cancellationOf(signal))
    }
    signal.addEventListener('abort', onAbort, { once: true })
    connect.call(pool, (error, client) => {
      signal.removeEventListener('abort', onAbort)
      if (error) return reject(error)
      if (gaveUp) return client!.release()
      resolve(client!)
    })
  })
}

/** `pool.query()` under `signal`: the cancelled query's client goes back to the pool, healthy. */
function queryUnder(pool: PgPool, connect: PgPool['connect'], signal: AbortSignal, config: unknown, values: unknown): Promise<unknown> {
  if (signal.aborted) return Promise.reject(cancellationOf(signal))
  return connectUnlessAborted(connect, pool, signal).then(
    (client) =>
      new Promise((resolve, reject) => {
        let released = false
        // As pg-pool does: a connection error while the query runs releases (closes) the client.
        const onError = (error: Error): void => {
          if (released) return
          released = true
          client.release(error)
          reject(error)
        }
        client.once('error', onError)
        const settle = (error: Error | null | undefined, result?: unknown): void => {
          client.removeListener('error', onError)
          if (released) return
          released = true
          // A query stopped by our cancel request (or never sent) leaves a healthy connection.
          if (error && isCancellationOf(error, signal)) client.release()
          else client.release(error ?? undefined)
          if (error) reject(error)
          else resolve(result)
        }
        queryUnderSignal(client, signal, config, values, settle)
      }),
  )
}

/**
 * Makes a pg.Pool cancellable (own properties `connect` and `query` on the pool; idempotent): every
 * client it hands out has a cancellable `query()`, and `pool.query()` made under a scope returns a
 * cancelled query's client to the pool.
 */
export function guardPool(pool: PgPool, existingClients: readonly unknown[]): void {
  if (isGuardedPool(pool)) return
  const connect = pool.connect
  const query = pool.query
  Object.defineProperty(pool, kPool, { value: true, enumerable: false })
  for (const client of existingClients) guardClient(client as PgClient)
  Object.defineProperty(pool, 'connect', {
    configurable: true,
    writable: true,
    enumerable: false,
    value: function (this: PgPool, callback?: ConnectCallback): unknown {
      if (typeof callback === 'function') {
        return connect.call(this, (error, client, release) => {
          if (client) guardClient(client)
          callback(error, client, release)
        })
      }
      return (connect.call(this) as Promise<PoolClient>).then((client) => {
        guardClient(client)
        return client
      })
    },
  })
  Object.defineProperty(pool, 'query', {
    configurable: true,
    writable: true,
    enumerable: false,
    value: function (this: PgPool, ...args: unknown[]): unknown {
      let [config, values, callback] = args
      const signal = currentSignal()
      if (signal === undefined || typeof config === 'function' || config == null || isSubmittableConfig(config)) {
        return query.apply(this, args)
      }
      if (typeof values === 'function') {
        callback = values
        values = undefined
      }
      const result = queryUnder(this, this.connect, signal, config, values)
      if (typeof callback !== 'function') return result
      result.then(
        (value) => (callback as (error: Error | undefined, result?: unknown) => void)(undefined, value),
        (error: Error) => (callback as (error: Error | undefined) => void)(error),
      )
      return undefined
    },
  })
}

/** A submittable (cursor, stream), or a config that throws when read: either goes to pg-pool untouched. */
function isSubmittableConfig(config: unknown): boolean {
  try {
    return typeof config === 'object' && config !== null && typeof (config as { submit?: unknown }).submit === 'function'
  } catch {
    return true
  }
}
