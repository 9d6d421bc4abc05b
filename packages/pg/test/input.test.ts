// Hostile input: what cancellable() is given, and what goes into the queries of a cancellable
// pool. Anything that is not a pool or a client is refused with a coded TypeError naming the value;
// user values and query configs behave exactly as on a plain pool (same rows or same error).
import { errorCodes, TaskGroup } from '@taskscope/core'
import { cancellable } from '@taskscope/pg'
import fc from 'fast-check'
import pg from 'pg'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { databaseForThisFile } from './database.ts'

const db = databaseForThisFile()

const throwing = (): never => {
  throw new Error('hostile getter')
}

/** Values that look a little like a pool or a client, or hurt whoever inspects them (made fresh for each run). */
const hostileMakers: (() => unknown)[] = [
  () => ({ query() {}, connect() {} }),
  () => ({ query() {}, connect() {}, processID: 1, secretKey: 2 }),
  () => ({ query: 1, connect: 2, end: 3, totalCount: 0, idleCount: 0, waitingCount: 0 }),
  // biome-ignore lint/suspicious/noThenProperty: an odd thenable, on purpose
  () => ({ then: (resolve: (value: unknown) => void) => resolve(1) }),
  () => () => {},
  () => Object.defineProperty({}, 'query', { get: throwing }),
  () =>
    new Proxy(
      {},
      {
        get: throwing,
        has: throwing,
        getPrototypeOf: throwing,
        ownKeys: throwing,
        getOwnPropertyDescriptor: throwing,
        isExtensible: throwing,
      },
    ),
  () => new Proxy(() => {}, { get: throwing, has: throwing, apply: throwing }),
  () => Object.create(null),
  () => pg,
  () => pg.Pool,
  () => pg.Client,
]
// fast-check reads the values it generates (to clone them): it gets makers, the property makes the value.
const hostile = fc.oneof(
  fc.anything().map((value) => () => value),
  fc.integer({ min: 0, max: hostileMakers.length - 1 }).map((i) => hostileMakers[i]!),
)

describe('cancellable(value): bad input', () => {
  it('refuses anything that is not a pg.Pool or a pg.Client with a coded TypeError naming the argument', () => {
    fc.assert(
      fc.property(hostile, (make) => {
        let thrown: unknown
        try {
          cancellable(make() as object)
        } catch (error) {
          thrown = error
        }
        expect(thrown).toBeInstanceOf(TypeError)
        expect((thrown as { code?: unknown }).code).toBe(errorCodes.invalidArgType)
        expect((thrown as Error).message).toMatch(
          /^The "poolOrClient" argument of cancellable\(\) must be a pg\.Pool or a pg\.Client\. Received /,
        )
      }),
      { numRuns: 300 },
    )
  })

  it('refuses a sealed pool (its query() cannot be replaced) with ERR_INVALID_ARG_VALUE', async () => {
    const pool = Object.seal(new pg.Pool({ connectionString: db.server.url }))
    try {
      expect(() => cancellable(pool)).toThrow(expect.objectContaining({ name: 'TypeError', code: errorCodes.invalidArgValue }))
    } finally {
      await pool.end()
    }
  })

  it('is idempotent: wrapping a pool or a client twice returns it, wrapped once', async () => {
    const pool = new pg.Pool({ connectionString: db.server.url, max: 1 })
    const client = new pg.Client({ connectionString: db.server.url })
    try {
      expect(cancellable(pool)).toBe(pool)
      const [query, connect] = [pool.query, pool.connect]
      expect(cancellable(pool)).toBe(pool)
      expect([pool.query, pool.connect]).toEqual([query, connect])
      expect(cancellable(client)).toBe(client)
      const clientQuery = client.query
      expect(cancellable(client)).toBe(client)
      expect(client.query).toBe(clientQuery)
      await client.connect()
      const group = new TaskGroup()
      const results = await Promise.all([
        group.createTask(() => pool.query('select 1 as n')),
        group.createTask(() => client.query('select 2 as n')),
      ])
      await group.close()
      expect(results.map((result) => result.rows)).toEqual([[{ n: 1 }], [{ n: 2 }]])
    } finally {
      await Promise.all([pool.end(), client.end()])
    }
  })

  it('covers the clients a pool already held when it was wrapped', async () => {
    const pool = new pg.Pool({ connectionString: db.server.url, max: 1 })
    try {
      const before = await pool.connect()
      before.release()
      cancellable(pool)
      const client = await pool.connect()
      expect(client).toBe(before)
      expect(Object.hasOwn(client, 'query')).toBe(true)
      client.release()
    } finally {
      await pool.end()
    }
  })
})

describe('user values in the queries of a cancellable pool', () => {
  let plain: pg.Pool
  let wrapped: pg.Pool
  beforeAll(() => {
    plain = new pg.Pool({ connectionString: db.server.url, max: 2 })
    wrapped = cancellable(new pg.Pool({ connectionString: db.server.url, max: 2 }))
  })
  afterAll(async () => {
    await Promise.all([plain?.end(), wrapped?.end()])
  })

  /** What a query gave: its rows, or its error's name and SQLSTATE. */
  const outcome = (promise: Promise<pg.QueryResult>): Promise<unknown> =>
    promise.then(
      (result) => ({ rows: result.rows }),
      (error: { name?: unknown; code?: unknown; message?: unknown }) => ({ error: error.name, code: error.code, message: error.message }),
    )

  const value = fc.oneof(
    fc.string({ unit: 'grapheme' }),
    fc.string({ unit: 'binary' }), // NUL and lone surrogates: PostgreSQL refuses some
    fc.integer(),
    fc.double(),
    fc.boolean(),
    fc.constant(null),
    fc.constant(undefined),
    fc.array(fc.integer(), { maxLength: 3 }),
    fc.constant({ toPostgres: () => 'from toPostgres' }),
    fc.constant({ toPostgres: throwing }),
    fc.constant(Object.defineProperty({}, 'toPostgres', { get: throwing })),
  )
  const text = fc.oneof(
    fc.constant('select $1::text as v'),
    fc.constant('select $1 as v'),
    fc.constant('select'),
    fc.constant('rollback'),
    fc.constant('/* c */ ROLLBACK'),
    fc.string({ maxLength: 20 }),
  )

  it('gives the same result or the same error as a plain pool, in a scope', async () => {
    await fc.assert(
      fc.asyncProperty(text, fc.array(value, { maxLength: 2 }), async (sql, values) => {
        const expected = await outcome(plain.query(sql, values))
        const group = new TaskGroup()
        const actual = await group.createTask(() => outcome(wrapped.query(sql, values)))
        await group.close()
        expect(actual).toEqual(expected)
      }),
      { numRuns: 60 },
    )
    // Whatever happened, the pool still answers.
    const group = new TaskGroup()
    expect((await group.createTask(() => wrapped.query('select 1 as n'))).rows).toEqual([{ n: 1 }])
    await group.close()
  })

  it('passes a hostile query config to node-postgres as it is: the same error, thrown or rejected', async () => {
    const configs: unknown[] = [
      null,
      undefined,
      42,
      { text: 1 },
      Object.defineProperty({}, 'text', { get: throwing }),
      new Proxy({}, { get: throwing, getPrototypeOf: throwing, ownKeys: throwing, getOwnPropertyDescriptor: throwing }),
      // biome-ignore lint/suspicious/noThenProperty: an odd thenable, on purpose
      { then: () => {} },
    ]
    for (const config of configs) {
      const catching = async (pool: pg.Pool): Promise<unknown> => {
        try {
          return await outcome((pool.query as (config: unknown) => Promise<pg.QueryResult>)(config))
        } catch (error) {
          return { thrown: (error as Error).name, message: (error as Error).message }
        }
      }
      const expected = await catching(plain)
      const group = new TaskGroup()
      const actual = await group.createTask(() => catching(wrapped))
      await group.close()
      expect(actual).toEqual(expected)
    }
  })
})
