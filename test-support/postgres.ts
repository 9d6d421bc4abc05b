// pg_stat_activity helpers for tests on a real PostgreSQL (the server itself: postgres-server.mjs).

export { type PostgresServer, postgresBinDir, postgresMissing, startPostgres } from './postgres-server.mjs'

/** A connection that runs SQL (a node-postgres Client or Pool; structural, so test-support needs no driver). */
export interface Queryable {
  query(text: string, values?: unknown[]): Promise<{ rows: unknown[] }>
}

/** A backend's row in pg_stat_activity, found by a tag in its SQL (a comment such as `/* tag:abc *\/`). */
export interface Activity {
  pid: number
  state: string | null
  query: string
}

/** The backends whose current or last SQL contains `tag`. */
export async function activity(observer: Queryable, tag: string): Promise<Activity[]> {
  const { rows } = (await observer.query('select pid, state, query from pg_stat_activity where query like $1 and pid <> pg_backend_pid()', [
    `%${tag}%`,
  ])) as { rows: Activity[] }
  return rows
}

/** Waits (polling the server, bounded) until `check` holds for the backends tagged `tag`; returns them. */
export async function untilActivity(
  observer: Queryable,
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
export const untilRunning = (observer: Queryable, tag: string): Promise<Activity[]> =>
  untilActivity(observer, tag, (rows) => rows.some((row) => row.state === 'active'))

/** Waits until no backend runs the SQL tagged `tag` any more (its backend idle, or gone). */
export const untilStopped = (observer: Queryable, tag: string): Promise<Activity[]> =>
  untilActivity(observer, tag, (rows) => rows.every((row) => row.state !== 'active'))

let tags = 0
/** A tag unique in this process, to put in a query's SQL as a comment. */
export const newTag = (label = 'q'): string => `ts_${label}_${process.pid}_${++tags}`
