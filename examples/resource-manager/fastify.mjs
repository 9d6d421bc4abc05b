/**
 * Resource manager with graceful shutdown (Fastify + close-with-grace). The app owns a resource
 * (a simulated database pool, opened at start), serves slow requests that use it, and runs
 * background jobs. On SIGTERM (or Ctrl-C):
 * 1. `app.close()` stops accepting connections; taskscope refuses new background jobs at once;
 * 2. in-flight requests finish, and background jobs get until `shutdownTimeout` to finish;
 * 3. whatever still runs then is cancelled with `ShutdownError`, the worker pool is closed;
 * 4. only then is the database closed (the onClose hook waits for `app.concurrency.close()`),
 * and a report says what was drained and what was cancelled. The process exits with code 0.
 *
 *   node examples/resource-manager/fastify.mjs
 *   curl 'http://localhost:3000/resources/report?ms=3000' &  curl -X POST 'http://localhost:3000/resources/jobs?ms=60000'
 *   kill -TERM <pid>   (or Ctrl-C)
 */
import { setTimeout as sleep } from 'node:timers/promises'
import { pathToFileURL } from 'node:url'
import { concurrencyPlugin } from '@taskscope/fastify'
import closeWithGrace from 'close-with-grace'
import Fastify from 'fastify'

/** A stand-in for a database connection pool. */
export class Database {
  open = true
  inUse = 0
  queries = 0

  async query(sql, { ms, signal }) {
    if (!this.open) throw new Error('the database is closed')
    this.inUse++
    try {
      await sleep(ms, undefined, { signal }) // the query runs for `ms`; the signal cancels it
      this.queries++
      return [{ sql, ms }]
    } finally {
      this.inUse--
    }
  }

  async end() {
    this.open = false
  }
}

const msQuery = { querystring: { type: 'object', properties: { ms: { type: 'integer', minimum: 0, maximum: 600_000, default: 2_000 } } } }

/** The routes, as a Fastify plugin, using the database `db`. */
export async function resourceRoutes(app, { db }) {
  // onClose hooks run before the plugin's own shutdown has finished: wait for it (it is
  // idempotent and returns the summary), so that no request or job still uses the database.
  app.addHook('onClose', async () => {
    await app.concurrency.close()
    await db.end()
  })

  app.get('/resources', async () => ({ db: { open: db.open, inUse: db.inUse, queries: db.queries }, ...app.concurrency.stats() }))

  // A slow request: its query is a task of the request, cancelled if the client leaves.
  app.get('/resources/report', { schema: msQuery }, async (request) => {
    const rows = await request.taskGroup.createTask((signal) => db.query('SELECT report', { ms: request.query.ms, signal }), {
      name: 'report query', // how the live tree (runtime.inspect()) and the logs name it
    })
    return { rows }
  })

  // A background job: it outlives the request; shutdown lets it finish, or cancels it.
  app.post('/resources/jobs', { schema: msQuery }, async (request, reply) => {
    const job = app.backgroundTasks.add((signal) => db.query('EXPORT everything', { ms: request.query.ms, signal }), {
      name: `export (${request.query.ms} ms)`,
    })
    return reply.code(202).send({ id: job.id, name: job.name })
  })
}

export async function build({ logger = false, shutdownTimeout = 5_000 } = {}) {
  const app = Fastify({ logger })
  await app.register(concurrencyPlugin, { shutdownTimeout })
  app.decorate('db', new Database()) // opened with the app, closed by resourceRoutes' onClose hook
  await app.register(resourceRoutes, { db: app.db })
  return app
}

/** Builds and listens; resolves with `{ app, url, close }`. */
export async function start({ port = 3000, host = '127.0.0.1', ...options } = {}) {
  const app = await build(options)
  await app.listen({ port, host })
  return { app, url: `http://${host}:${app.server.address().port}`, close: () => app.close() }
}

/** A shutdown summary (from `app.concurrency.close()`), for humans. */
export function formatReport({ durationMs, requests, background, pool }, db) {
  const drained = requests.inFlight - requests.cancelled - requests.abandoned
  const running = background.completed + background.failed + background.cancelled + background.abandoned
  return [
    `shutdown report (${durationMs} ms):`,
    `  requests:   ${requests.inFlight} in flight: ${drained} drained, ${requests.cancelled} cancelled, ${requests.abandoned} abandoned`,
    `  background: ${running} running: ${background.completed} completed, ${background.failed} failed, ${background.cancelled} cancelled, ${background.abandoned} abandoned`,
    `  threadpool: ${pool}`,
    `  database:   ${db.open ? 'open' : 'closed'} after ${db.queries} completed queries`,
  ].join('\n')
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  const shutdownTimeout = Number(process.env.SHUTDOWN_TIMEOUT ?? 5_000)
  const { app, url } = await start({ port: Number(process.env.PORT ?? 3000), shutdownTimeout, logger: { level: 'warn' } })
  // close-with-grace: on SIGTERM/SIGINT (or an uncaught error) run this once, then exit 0 (1 on
  // error or if it takes longer than `delay`). A second signal exits at once.
  closeWithGrace({ delay: shutdownTimeout + 5_000 }, async ({ signal, err }) => {
    if (err) console.error(err)
    console.log(`${signal ?? 'error'} received: draining (shutdownTimeout ${shutdownTimeout} ms)`)
    await app.close()
    console.log(formatReport(await app.concurrency.close(), app.db))
  })
  console.log(`Resource manager (Fastify) listening on ${url} (pid ${process.pid})
  curl '${url}/resources/report?ms=3000'          # a slow request: shutdown lets it finish
  curl -X POST '${url}/resources/jobs?ms=60000'   # a long background job: shutdown cancels it
  curl ${url}/resources                           # what is in use
  kill -TERM ${process.pid}   # then read the shutdown report`)
}
