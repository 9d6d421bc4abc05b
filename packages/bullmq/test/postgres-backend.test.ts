// BullMQ's PostgreSQL backend as the PostgreSQL store gives it to BullMQ's classes: a query cut
// off by PostgreSQL going away throws BullMQ's ConnectionClosedError (which BullMQ retries) with
// the original's message and code; any other error goes through unchanged. Before, BullMQ took
// such an error (e.g. "the database system is not yet accepting connections" while a killed
// server recovered) for the failure of the operation, and failed a job that had run to its end.
import { type PostgresServer, startPostgres } from '@taskscope/test-support'
import { ConnectionClosedError, isNotConnectionError, runMigrations } from 'bullmq'
import pg from 'pg'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { postgresBackend } from '../src/postgres-backend.ts'

let server: PostgresServer
let admin: pg.Pool

beforeAll(async () => {
  server = await startPostgres()
  admin = new pg.Pool({ connectionString: server.url, max: 2 })
  const client = await admin.connect()
  try {
    await runMigrations(client)
  } finally {
    client.release()
  }
})
afterAll(async () => {
  await admin?.end()
  await server?.stop()
})

describe('the PostgreSQL backend given to BullMQ', () => {
  it('a query cut off by the server (its connection terminated) throws the error BullMQ retries', async () => {
    const backend = postgresBackend(`pgb${process.pid}`, { connection: server.url as never }, {}) as any
    try {
      await backend.waitUntilReady()
      const marker = `taskscope-cut-${process.pid}`
      const cut = backend.query(`SELECT pg_sleep(60) /* ${marker} */`).then(
        () => undefined,
        (error: unknown) => error,
      )
      const running = async (): Promise<number> =>
        (await admin.query(`SELECT pid FROM pg_stat_activity WHERE query LIKE '%${marker}%' AND pid <> pg_backend_pid()`)).rowCount ?? 0
      await expect.poll(running, { timeout: 10_000 }).toBe(1)
      await admin.query(`SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE query LIKE '%${marker}%' AND pid <> pg_backend_pid()`)
      const error = await cut
      expect(error).toBeInstanceOf(ConnectionClosedError)
      expect(isNotConnectionError(error as Error)).toBe(false)
      expect(error).toMatchObject({ code: '57P01', message: expect.stringContaining('terminating connection') })
      expect((error as Error).cause).toMatchObject({ code: '57P01' })
      // Any other error is the operation's own: unchanged.
      const own = await backend.query('SELECT 1 / 0').then(
        () => undefined,
        (failure: unknown) => failure,
      )
      expect(own).not.toBeInstanceOf(ConnectionClosedError)
      expect(own).toMatchObject({ code: '22012' })
      expect(isNotConnectionError(own as Error)).toBe(true)
    } finally {
      await backend.close()
    }
  }, 60_000)
})
