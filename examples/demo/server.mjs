/**
 * The demo behind `npm start`: one Fastify server with every Fastify scenario of the examples
 * mounted side by side, and a page at / that shows the runtime live: charts of request groups,
 * tasks, the worker pool and the event loop; totals; the live task tree (`runtime.inspect()`); and
 * a running event log fed by taskscope's diagnostics channels. The page polls GET /stats,
 * /inspect, /events and /history twice a second (the server keeps the charts' last minute, so a
 * page opened late draws it at once); it needs no network beyond this server.
 *
 *   npm start            (or: PORT=8080 node examples/demo/server.mjs)
 *   open http://localhost:3000
 */
import { readFile } from 'node:fs/promises'
import { pathToFileURL } from 'node:url'
import { concurrencyPlugin } from '@taskscope/fastify'
import closeWithGrace from 'close-with-grace'
import Fastify from 'fastify'
import { analyticsRoutes } from '../analytics/fastify.mjs'
import { dashboardRoutes } from '../dashboard/fastify.mjs'
import { startUpstream } from '../dashboard/upstream.mjs'
import { newsletterRoutes } from '../newsletter/fastify.mjs'
import { pipelineRoutes } from '../pipeline/fastify.mjs'
import { Database, resourceRoutes } from '../resource-manager/fastify.mjs'
import { searchRoutes } from '../search/fastify.mjs'
import { taskRoutes } from '../task-manager/fastify.mjs'
import { thumbnailCurlLines, thumbnailRoutes } from '../thumbnails/fastify.mjs'
import { eventLog } from './event-log.mjs'
import { chartHistory } from './history.mjs'

const page = await readFile(new URL('./index.html', import.meta.url), 'utf8')

/** Builds the demo app: the runtime once, at the root, then every scenario's routes. */
export async function build({ logger = false, shutdownTimeout = 5_000, analytics } = {}) {
  const app = Fastify({ logger })
  await app.register(concurrencyPlugin, { shutdownTimeout })

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
 * Builds and listens; resolves with `{ app, url, close }`. If it cannot listen (the port is taken:
 * `EADDRINUSE`), it closes what it built and rejects with the listen error.
 */
export async function start({ port = 3000, host = '127.0.0.1', ...options } = {}) {
  const app = await build(options)
  try {
    await app.listen({ port, host })
  } catch (error) {
    app.log.level = 'silent' // it never served: its shutdown summary would only be noise
    await app.close()
    throw error
  }
  return { app, url: `http://${host}:${app.server.address().port}`, close: () => app.close() }
}

/** Runs the demo from the command line: one clear line and exit code 1 when the port is taken. */
async function main() {
  const port = Number(process.env.PORT ?? 3000)
  const started = await start({ port, host: process.env.HOST, logger: { level: 'warn' } }).catch((error) => {
    if (error?.code !== 'EADDRINUSE') throw error
    console.error(`taskscope demo: port ${port} is already in use. Stop what uses it, or choose another port: PORT=${port + 1} npm start`)
    return undefined
  })
  if (started === undefined) {
    process.exitCode = 1
    return
  }
  const { app } = started
  const url = `http://localhost:${app.server.address().port}`
  closeWithGrace(async ({ signal }) => {
    if (signal) console.log(`${signal}: shutting down (in-flight work drains for up to 5 s)`)
    await app.close()
  })
  const json = `-H 'content-type: application/json'`
  const [getSample, postPhoto] = thumbnailCurlLines(url)
  console.log(`taskscope demo listening on ${url}

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
  curl ${url}/stats                                                    # the numbers behind the page
  curl ${url}/inspect                                                  # the live task tree
  curl ${url}/events                                                   # the event log (from the diagnostics channels)
  curl ${url}/history                                                  # the charts' last minute, one sample every 500 ms
Ctrl-C stops the server gracefully.`)
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) await main()
