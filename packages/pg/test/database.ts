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

/** A backend's row in pg_stat_activity, found by a tag in its SQL (a comment such as `/* tag:abc *\/`). */
export interface Activity {
  pid: number
  state: string | null
  query: string
}

/** The backends whose current or last SQL contains `tag`. */
export async function activity(observer: pg.Client, tag: string): Promise<Activity[]> {
  const { rows } = await observer.query<Activity>(
    'select pid, state, query from pg_stat_activity where query like $1 and pid <> pg_backend_pid()',
    [`%${tag}%`],
  )
  return rows
}

/** Waits (polling the server, bounded) until `check` holds for the backends tagged `tag`; returns them. */
export async function untilActivity(
  observer: pg.Client,
  tag: string,
  check: (rows: Activity[]) => boolean,
  limit = 2_000,
): Promise<Activity[]> {
  let rows: Activity[] = []
  for (let i = 0; i < limit; i++) {
    rows = await activity(observer, tag)
    if (check(rows)) return rows
    await new Promise((resolve) => setTimeout(resolve, 5))
  }
  throw new Error(`pg_stat_activity never matched for ${tag}: ${JSON.stringify(rows)}`)
}

/** Waits until a backend runs the SQL tagged `tag` (state 'active'). */
export const untilRunning = (observer: pg.Client, tag: string): Promise<Activity[]> =>
  untilActivity(observer, tag, (rows) => rows.some((row) => row.state === 'active'))

/** Waits until no backend runs the SQL tagged `tag` any more (its backend idle, or gone). */
export const untilStopped = (observer: pg.Client, tag: string): Promise<Activity[]> =>
  untilActivity(observer, tag, (rows) => rows.every((row) => row.state !== 'active'))

let tags = 0
/** A tag unique in this process, to put in a query's SQL as a comment. */
export const newTag = (label = 'q'): string => `ts_${label}_${process.pid}_${++tags}`
