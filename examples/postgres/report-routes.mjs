/**
 * The PostgreSQL example's routes, as a Fastify plugin (the demo mounts them too): a slow report
 * whose query runs on a `cancellable()` pool, so that a client that leaves stops it on the server,
 * and what the server runs right now, seen from a plain connection (pg_stat_activity).
 *
 *   await app.register(reportRoutes, { pool: cancellable(new pg.Pool(...)), observer, log: console.log })
 *
 * `GET /report?seconds=N` (at most 60) runs `select pg_sleep(N)`; `GET /activity` lists the
 * server's client backends. `observer` is a plain, never cancellable `pg.Client` (or pool);
 * `log`, when given, is told when each report query starts, finishes or is cancelled.
 */
import { isCancellation } from '@taskscope/core'

/** @param {import('fastify').FastifyInstance} app */
export async function reportRoutes(app, { pool, observer, log }) {
  app.get('/report', async (request) => {
    const seconds = Math.min(Number(request.query.seconds ?? 3) || 3, 60)
    const client = await pool.connect()
    const started = performance.now()
    try {
      log?.(`report: query started on backend ${client.processID} (pg_sleep(${seconds}))`)
      // No signal passed by hand: the query is made under the request's currentSignal().
      const { rows } = await client.query('select pg_sleep($1), now() as finished_at', [seconds])
      log?.(`report: query finished after ${Math.round(performance.now() - started)} ms`)
      return { finishedAt: rows[0].finished_at }
    } catch (error) {
      if (log && isCancellation(error)) {
        const ms = Math.round(performance.now() - started)
        const { rows } = await observer.query('select state from pg_stat_activity where pid = $1', [client.processID])
        log(`report: ${error.name}: query cancelled on the server after ${ms} ms; backend ${client.processID} is now ${rows[0]?.state}`)
      }
      throw error
    } finally {
      client.release()
    }
  })

  // What the server runs right now, seen from the observer connection.
  app.get('/activity', async () => {
    const { rows } = await observer.query(
      `select pid, state, left(query, 60) as query from pg_stat_activity where backend_type = 'client backend' and pid <> pg_backend_pid() order by pid`,
    )
    return rows
  })
}
