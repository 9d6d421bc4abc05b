/**
 * Cancellation that reaches the database, one command: a Fastify app whose slow report runs on a
 * `cancellable()` PostgreSQL pool (its routes: report-routes.mjs). Abandon the request (Ctrl-C on curl) and the query stops on the
 * server: the app logs the backend that ran it going idle, seen from another connection
 * (pg_stat_activity). Starts its own throwaway PostgreSQL (throwaway-postgres.mjs: `initdb` into a
 * temporary folder, a free loopback port; as the `postgres` system user when run as root) unless DATABASE_URL is set; its
 * binaries must be on the PATH or in /usr/lib/postgresql/<major>/bin (`apt-get install postgresql`).
 * SIGTERM/SIGINT closes the app and the pool, stops PostgreSQL by pid, removes its folder, exits 0.
 *
 *   node examples/postgres/start.mjs          # PORT=3000 by default
 *   curl 'localhost:3000/report?seconds=30'   # then Ctrl-C it: "cancelled on the server"
 */
import { pathToFileURL } from 'node:url'
import concurrencyPlugin from '@taskscope/fastify'
import { cancellable } from '@taskscope/pg'
import Fastify from 'fastify'
import pg from 'pg'
import { reportRoutes } from './report-routes.mjs'
import { postgresMissing, startPostgres } from './throwaway-postgres.mjs'

/** The app: GET /report?seconds=N runs one slow query on the cancellable pool. */
export async function start({ connectionString, port = 3000, log = console.log } = {}) {
  // Once, at start: every query made under a request (or task) is now cancelled with it.
  const pool = cancellable(new pg.Pool({ connectionString, max: 5 }))
  // A plain connection that watches the server: never cancelled, never wrapped.
  const observer = new pg.Client({ connectionString })
  await observer.connect()
  const app = Fastify({ logger: false })
  await app.register(concurrencyPlugin)

  await app.register(reportRoutes, { pool, observer, log })

  const url = await app.listen({ host: '127.0.0.1', port })
  return {
    url,
    async close() {
      await app.close()
      await pool.end()
      await observer.end()
    },
  }
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  let postgres
  let app
  let stopping
  const stop = (code) => {
    stopping ??= (async () => {
      await app?.close()
      await postgres?.stop()
      process.exitCode = code
    })()
    return stopping
  }
  process.once('SIGTERM', () => stop(0))
  process.once('SIGINT', () => stop(0))
  try {
    if (!process.env.DATABASE_URL) {
      const missing = postgresMissing()
      if (missing) throw new Error(`${missing}, or set DATABASE_URL`)
      postgres = await startPostgres()
      console.log(`postgres: pid ${postgres.pid}`)
    }
    const connectionString = process.env.DATABASE_URL || postgres.url
    app = await start({ connectionString, port: Number(process.env.PORT ?? 3000) })
    console.log(`PostgreSQL example listening on ${app.url}, database ${connectionString}
  curl '${app.url}/report?seconds=2'     # finishes
  curl '${app.url}/report?seconds=30'    # press Ctrl-C: the query stops on the server
  curl ${app.url}/activity
Ctrl-C stops everything.`)
  } catch (error) {
    console.error(error.message)
    await stop(1)
  }
}
