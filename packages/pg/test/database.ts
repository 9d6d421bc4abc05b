// The test files' PostgreSQL: one real server per file (started by @taskscope/test-support), a
// plain observer connection that watches pg_stat_activity, and helpers to wait on the server.
import { type PostgresServer, startPostgres } from '@taskscope/test-support'
import pg from 'pg'
import { afterAll, beforeAll } from 'vitest'

export interface Database {
  server: PostgresServer
  /** A plain (never cancellable) client: it watches the other backends. */
  observer: pg.Client
}

/** Starts a PostgreSQL server for this test file (beforeAll) and stops it afterwards (afterAll). */
export function databaseForThisFile(settings?: Record<string, string>): Database {
  const database = {} as Database
  beforeAll(async () => {
    database.server = await startPostgres({ settings })
    database.observer = new pg.Client({ connectionString: database.server.url })
    await database.observer.connect()
  }, 60_000)
  afterAll(async () => {
    await database.observer?.end()
    await database.server?.stop()
  })
  return database
}

export { type Activity, activity, newTag, untilActivity, untilRunning, untilStopped } from '@taskscope/test-support'
