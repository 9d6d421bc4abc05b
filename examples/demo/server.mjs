/**
 * The demo behind `npm start`: one Fastify server with every Fastify scenario of the examples
 * mounted side by side, and a page at / that shows the runtime live: charts of request groups,
 * tasks, the worker pool and the event loop; totals; the live task tree (`runtime.inspect()`); and
 * a running event log fed by taskscope's diagnostics channels. The page polls GET /stats,
 * /inspect, /events and /history twice a second (the server keeps the charts' last minute, so a
 * page opened late draws it at once); it needs no network beyond this server.
 *
 * With PostgreSQL, the page can also start a slow query and abort its request: the query is
 * cancelled on the server (`@taskscope/pg`), and the event log says so. Run directly, the demo uses
 * DATABASE_URL, else starts a throwaway PostgreSQL when its binaries are installed (the PATH or
 * /usr/lib/postgresql/<major>/bin), stopped by pid and its folder removed at shutdown; without
 * either it still starts, and the page says why the database scenario is off.
 *
 *   npm start            (or: PORT=8080 node examples/demo/server.mjs)
 *   open http://localhost:3000
 */
import { readFile } from 'node:fs/promises'
import { pathToFileURL } from 'node:url'
import { concurrencyPlugin } from '@taskscope/fastify'
import { cancellable } from '@taskscope/pg'
import closeWithGrace from 'close-with-grace'
import Fastify from 'fastify'
import pg from 'pg'
import { analyticsRoutes } from '../analytics/fastify.mjs'
import { dashboardRoutes } from '../dashboard/fastify.mjs'
import { startUpstream } from '../dashboard/upstream.mjs'
import { newsletterRoutes } from '../newsletter/fastify.mjs'
import { pipelineRoutes } from '../pipeline/fastify.mjs'
import { reportRoutes } from '../postgres/report-routes.mjs'
import { postgresMissing, startPostgres } from '../postgres/throwaway-postgres.mjs'
import { Database, resourceRoutes } from '../resource-manager/fastify.mjs'
import { searchRoutes } from '../search/fastify.mjs'
import { taskRoutes } from '../task-manager/fastify.mjs'
import { thumbnailCurlLines, thumbnailRoutes } from '../thumbnails/fastify.mjs'
import { eventLog } from './event-log.mjs'
import { chartHistory } from './history.mjs'

const page = await readFile(new URL('./index.html', import.meta.url), 'utf8')

/** Why the database scenario is off when the demo is given no database. */
const noDatabase = 'the demo was started without a database (run directly, it starts PostgreSQL when installed, or uses DATABASE_URL)'

/**
 * Builds the demo app: the runtime once, at the root, then every scenario's routes. With
 * `databaseUrl`, the slow report of the PostgreSQL example is mounted under /db on a `cancellable()`
 * pool (GET /db/report?seconds=N, GET /db/activity); `databaseOff` says why it is not, otherwise.
 * GET /database tells the page which: `{ enabled: true }` or `{ enabled: false, reason }`.
 */
export async function build({ logger = false, shutdownTimeout = 5_000, analytics, databaseUrl, databaseOff = noDatabase } = {}) {
  const app = Fastify({ logger })
  await app.register(concurrencyPlugin, { shutdownTimeout })

  if (databaseUrl !== undefined) {
    // Once, at start: every query made under a request is now cancelled on the server with it.
    const pool = cancellable(new pg.Pool({ connectionString: databaseUrl, max: 5 }))
    // A plain connection that watches the server (pg_stat_activity): never cancelled.
    const observer = new pg.Client({ connectionString: databaseUrl })
    await observer.connect().catch(async (error) => {
      await pool.end()
      await app.close()
      throw error
    })
    app.addHook('onClose', async () => {
      await pool.end()
      await observer.end()
    })
    await app.register(reportRoutes, { pool, observer, prefix: '/db' })
    app.get('/database', async () => ({ enabled: true }))
  } else {
    app.get('/database', async () => ({ enabled: false, reason: databaseOff }))
  }

  const upstream = await startUpstream({ latency: 300 }) // the dashboard's local "services"
  app.addHook('onClose', () => upstream.close())

  await app.register(dashboardRoutes, { upstreamUrl: upstream.url })
  // The same dashboard behind a slow upstream, for the page's "start and abort" button.
  const slowUpstream = await startUpstream({ latency: 5_000 })
  app.addHook('onClose', () => slowUpstream.close())
  await app.register(dashboardRoutes, { upstreamUrl: slowUpstream.url, prefix: '/slow' })
  await app.register(thumbnailRoutes)
  await app.register(searchRoutes)
  await app.register(newsletterRoutes)
  await app.register(analyticsRoutes, analytics)
  await app.register(taskRoutes)
  await app.register(pipelineRoutes)
  await app.register(resourceRoutes, { db: new Database() })

  app.get('/', (request, reply) => reply.type('text/html; charset=utf-8').send(page))

  const log = eventLog()
  const history = chartHistory(app)
  app.addHook('onClose', async () => {
    log.close()
    history.close()
  })

  // What the page shows. `stats().pool` is all zeros until the pool is first used. Durations in
  // whole milliseconds.
  app.get('/stats', async () => {
    const { requests, background, pool, eventLoop, draining } = app.concurrency.stats()
    const latest = history.latest()
    const tasks = app.backgroundTasks.list().map((task) => ({ ...task, durationMs: Math.round(task.durationMs) }))
    return {
      uptime: Math.round(process.uptime()),
      draining,
      requests,
      background: { ...background, tasks },
      pool,
      // `recent`: the delay within the last sampling interval (the charts'); the rest since start.
      eventLoop: { ...eventLoop, recent: { p99: latest?.delayP99 ?? 0, max: latest?.delayMax ?? 0 } },
    }
  })
  // The charts' last minute: samples after `?after=<seq>` (a page opened late asks for all of them).
  app.get('/history', async (request) => history.since(Number(request.query.after ?? 0) || 0))
  // The live tree: each request group with its tasks, and each background task.
  app.get('/inspect', async () => app.concurrency.inspect())
  // The running event log, from the diagnostics channels: entries after `?after=<seq>`.
  app.get('/events', async (request) => log.since(Number(request.query.after ?? 0) || 0))
  return app
}

/**
 * The database the demo runs on, and why there is none: `databaseUrl` when given (once it answers),
 * else with `postgres: true` a throwaway PostgreSQL server (`postgres`) when its binaries are here.
 */
async function openDatabase({ databaseUrl, postgres }) {
  if (databaseUrl !== undefined) {
    const probe = new pg.Client({ connectionString: databaseUrl, connectionTimeoutMillis: 5_000 })
    try {
      await probe.connect()
      return { databaseUrl }
    } catch (error) {
      return { databaseOff: `DATABASE_URL cannot be reached: ${error.message || error.code}` }
    } finally {
      await probe.end().catch(() => {})
    }
  }
  if (!postgres) return {}
  const missing = postgresMissing()
  if (missing) return { databaseOff: `${missing} (or set DATABASE_URL)` }
  try {
    const server = await startPostgres({ prefix: 'taskscope-demo-pg-' })
    return { databaseUrl: server.url, server }
  } catch (error) {
    return { databaseOff: `PostgreSQL did not start: ${error.message.split('\n', 1)[0]}` }
  }
}

/**
 * Builds and listens; resolves with `{ app, url, database, postgres, close }` (`database`: what
 * GET /database answers). `databaseUrl`: the PostgreSQL server of the database scenario (off, with
 * the reason on the page, when it cannot be reached); `postgres: true` without a `databaseUrl`:
 * start a throwaway one when PostgreSQL is installed (`postgres` is then `{ url, pid, dir }`;
 * `close()` stops it by pid and removes its folder). If it cannot listen (the port is taken:
 * `EADDRINUSE`), it closes what it built, stops that PostgreSQL, and rejects with the listen error.
 */
export async function start({ port = 3000, host = '127.0.0.1', databaseUrl, postgres = false, ...options } = {}) {
  const { server, ...database } = await openDatabase({ databaseUrl, postgres })
  let app
  try {
    app = await build({ ...options, ...database })
    await app.listen({ port, host })
  } catch (error) {
    if (app !== undefined) {
      app.log.level = 'silent' // it never served: its shutdown summary would only be noise
      await app.close()
    }
    await server?.stop()
    throw error
  }
  return {
    app,
    url: `http://${host}:${app.server.address().port}`,
    database: database.databaseUrl !== undefined ? { enabled: true } : { enabled: false, reason: database.databaseOff ?? noDatabase },
    postgres: server && { url: server.url, pid: server.pid, dir: server.dir },
    async close() {
      try {
        await app.close()
      } finally {
        await server?.stop()
      }
    },
  }
}

/** Runs the demo from the command line: one clear line and exit code 1 when the port is taken. */
async function main() {
  const port = Number(process.env.PORT ?? 3000)
  // Installed before starting: a Ctrl-C while PostgreSQL starts still stops it, once it is up.
  const grace = closeWithGrace(async ({ signal }) => {
    if (signal) console.log(`${signal}: shutting down (in-flight work drains for up to 5 s)`)
    const running = await starting.catch(() => undefined)
    await running?.close() // the app, then the throwaway PostgreSQL
  })
  const starting = start({
    port,
    host: process.env.HOST,
    logger: { level: 'warn' },
    databaseUrl: process.env.DATABASE_URL || undefined,
    postgres: true,
  })
  let started
  try {
    started = await starting
  } catch (error) {
    grace.uninstall()
    if (error?.code !== 'EADDRINUSE') throw error
    console.error(`taskscope demo: port ${port} is already in use. Stop what uses it, or choose another port: PORT=${port + 1} npm start`)
    process.exitCode = 1
    return
  }
  const { app, database, postgres } = started
  const url = `http://localhost:${app.server.address().port}`
  const databaseLine = postgres
    ? `postgres: pid ${postgres.pid}\nDatabase scenario on: a throwaway PostgreSQL at ${postgres.url} (in ${postgres.dir}; stopped and removed at shutdown)`
    : database.enabled
      ? 'Database scenario on: DATABASE_URL'
      : `Database scenario off: ${database.reason}`
  const json = `-H 'content-type: application/json'`
  const [getSample, postPhoto] = thumbnailCurlLines(url)
  console.log(`taskscope demo listening on ${url}
${databaseLine}

Open ${url} for live charts, the task tree and the event log, or try:
  curl ${url}/dashboard/1                                              # three upstream calls in parallel (request.taskGroup)
  ${getSample}                                   # a sample photo (or use your own)
  ${postPhoto}   # resized in the worker pool
  curl '${url}/search?q=taskscope&fail=primary'                        # failover with firstSuccessful
  curl '${url}/search?q=taskscope&slow=primary,backup,fallback'        # 504 after the timeout
  curl -X POST ${json} -d '{"subject":"Hello","recipients":20}' ${url}/newsletter   # background job
  curl ${url}/newsletter/status
  curl ${url}/analytics/daily                                          # AsyncLazy, computed in the pool, then cached
  curl -X POST ${json} -d '{"name":"report","steps":10}' ${url}/tasks  # then GET/DELETE /tasks/<id>, GET /tasks
  curl -X POST ${json} -d '{"documents":12,"concurrency":4}' ${url}/pipeline
  curl '${url}/resources/report?ms=3000'                               # a slow request; Ctrl-C drains it
${database.enabled ? `  curl '${url}/db/report?seconds=30'                                   # a slow query: press Ctrl-C, it stops on the server\n` : ''}  curl ${url}/stats                                                    # the numbers behind the page
  curl ${url}/inspect                                                  # the live task tree
  curl ${url}/events                                                   # the event log (from the diagnostics channels)
  curl ${url}/history                                                  # the charts' last minute, one sample every 500 ms
Ctrl-C stops the server gracefully.`)
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) await main()
