// cancellable(): the one entry point. Recognises a pg.Pool or a pg.Client by shape (so that two
// copies of node-postgres both work) and makes it cancellable in place.
import { inspect } from 'node:util'
import { codedError, enableCurrentSignal, errorCodes } from '@taskscope/core/adapter'
import { guardClient, isGuarded, type PgClient } from './client-queries.js'
import { guardPool, isGuardedPool, type PgPool } from './pool-queries.js'

/** A short rendering of any value for an error message (never runs a getter or a Proxy trap). */
function describe(value: unknown): string {
  if (value === null) return 'null'
  if (value === undefined) return 'undefined'
  try {
    if (typeof value === 'function') return `function ${(value as { name?: unknown }).name || '(anonymous)'}`
    const shown = inspect(value, { depth: 0, breakLength: Infinity, maxArrayLength: 3, maxStringLength: 40 })
    return typeof value === 'object' ? shown : `${shown} (${typeof value})`
  } catch {
    return `an uninspectable ${typeof value}`
  }
}

type Kind = 'pool' | 'client' | undefined

/** What `value` is, by shape: pg-pool's Pool (counts and connect/query/end) or pg's Client (a backend key and connect/query). */
function kindOf(value: object): Kind {
  const candidate = value as Record<string, unknown>
  if (typeof candidate.query !== 'function' || typeof candidate.connect !== 'function') return undefined
  if ('processID' in candidate && 'secretKey' in candidate && 'connectionParameters' in candidate) return 'client'
  if ('totalCount' in candidate && 'idleCount' in candidate && 'waitingCount' in candidate && typeof candidate.end === 'function')
    return 'pool'
  return undefined
}

/**
 * Makes a node-postgres `pg.Pool` or `pg.Client` cancellable, in place, and returns it (the same
 * object, same type): every query made under a taskscope scope — a request handler, a task, a
 * background task; see `currentSignal()` in `@taskscope/core` — is cancelled on the server when
 * that scope is cancelled (the client disconnected, a sibling failed, its deadline passed): a
 * PostgreSQL cancel request stops the backend, the query rejects with the scope's cancellation
 * (the same `CancelledError` its tasks see: `ClientDisconnectedError`, `TimeoutError`, ...; not
 * node-postgres's 57014 error), and the connection stays usable (`pool.query()` gives it back to
 * the pool; inside a transaction your `ROLLBACK` works). Queries made outside any scope, or inside
 * `shield()`, are never touched. Kysely's `PostgresDialect` and Drizzle's node-postgres driver on
 * the returned pool need nothing more.
 *
 * Calling it again on the same pool or client does nothing and returns it: it is idempotent. A
 * pool's clients are covered (those it already holds too), so there is no need to wrap them.
 *
 * Not cancelled: submittables (`pg-cursor`, `pg-query-stream`), clients in pipeline mode and
 * pg-native clients; their queries run as before.
 *
 * @param poolOrClient a `pg.Pool` (pg-pool) or a `pg.Client` from node-postgres 8.
 * @returns the same object.
 * @throws {TypeError} code `ERR_INVALID_ARG_TYPE` when `poolOrClient` is not a pg.Pool or a pg.Client;
 *   code `ERR_INVALID_ARG_VALUE` when it is frozen (its methods cannot be replaced).
 *
 * @example
 * ```ts
 * import pg from 'pg'
 * import { cancellable } from '@taskscope/pg'
 *
 * const pool = cancellable(new pg.Pool({ connectionString: process.env.DATABASE_URL }))
 * app.get('/report', async () => {
 *   const { rows } = await pool.query('select … expensive …') // stopped on the server if the client leaves
 *   return rows
 * })
 * ```
 */
export function cancellable<T extends object>(poolOrClient: T): T {
  let kind: Kind
  let extensible = false
  let inspectError: unknown
  if ((typeof poolOrClient === 'object' || typeof poolOrClient === 'function') && poolOrClient !== null) {
    try {
      kind = kindOf(poolOrClient)
      extensible = Object.isExtensible(poolOrClient)
    } catch (error) {
      kind = undefined
      inspectError = error
    }
  }
  if (kind === undefined) {
    throw codedError(
      TypeError,
      errorCodes.invalidArgType,
      `The "poolOrClient" argument of cancellable() must be a pg.Pool or a pg.Client. Received ${describe(poolOrClient)}`,
      inspectError === undefined ? undefined : { cause: inspectError },
    )
  }
  if (kind === 'pool' ? isGuardedPool(poolOrClient) : isGuarded(poolOrClient)) return poolOrClient
  if (!extensible) {
    throw codedError(
      TypeError,
      errorCodes.invalidArgValue,
      `The "poolOrClient" argument of cancellable() cannot be frozen or sealed: its query() must be replaced. Received ${describe(poolOrClient)}`,
    )
  }
  enableCurrentSignal()
  if (kind === 'client') guardClient(poolOrClient as unknown as PgClient)
  else {
    const clients = (poolOrClient as { _clients?: unknown })._clients
    guardPool(poolOrClient as unknown as PgPool, Array.isArray(clients) ? clients : [])
  }
  return poolOrClient
}
