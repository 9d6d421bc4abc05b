/**
 * Dashboard (Fastify): one request fetches a user, their posts and their stats in parallel, as
 * three tasks of `request.taskGroup`. The group ties the three upstream calls to the request:
 * - they run at the same time, so the page takes one upstream latency, not three;
 * - if one fails, the others are cancelled at once and the client gets that error;
 * - if the client disconnects, all three fetches are aborted (watch the upstream's `aborted`
 *   count) instead of running to completion for nobody.
 *
 *   node examples/dashboard/fastify.mjs
 *   curl http://localhost:3000/dashboard/1
 */
import { pathToFileURL } from 'node:url'
import { concurrencyPlugin } from '@taskscope/fastify'
import closeWithGrace from 'close-with-grace'
import Fastify from 'fastify'
import { startUpstream } from './upstream.mjs'

async function getJSON(url, signal) {
  const response = await fetch(url, { signal }) // the task's signal: aborted with the request
  if (!response.ok) {
    // What the client reads names no internal address; the upstream's answer stays in `cause`, for logs.
    const notFound = response.status === 404
    throw Object.assign(
      new Error(notFound ? 'not found' : 'the upstream service failed', {
        cause: new Error(`upstream answered ${response.status} for ${url}`),
      }),
      {
        statusCode: notFound ? 404 : 502,
      },
    )
  }
  return response.json()
}

/** The routes, as a Fastify plugin (the demo server mounts it next to the other scenarios). */
export async function dashboardRoutes(app, { upstreamUrl }) {
  app.get('/dashboard/:userId', async (request) => {
    const base = `${upstreamUrl}/users/${encodeURIComponent(request.params.userId)}`
    const { taskGroup } = request
    const [user, posts, stats] = await Promise.all([
      taskGroup.createTask((signal) => getJSON(base, signal), { name: 'user' }),
      taskGroup.createTask((signal) => getJSON(`${base}/posts`, signal), { name: 'posts' }),
      taskGroup.createTask((signal) => getJSON(`${base}/stats`, signal), { name: 'stats' }),
    ])
    return { user, posts, stats }
  })
}

/** Builds the app. Without `upstreamUrl`, starts a local upstream and stops it with the app. */
export async function build({ upstreamUrl, logger = false } = {}) {
  const app = Fastify({ logger })
  await app.register(concurrencyPlugin)
  if (upstreamUrl === undefined) {
    const upstream = await startUpstream()
    app.addHook('onClose', () => upstream.close())
    upstreamUrl = upstream.url
  }
  await app.register(dashboardRoutes, { upstreamUrl })
  return app
}

/** Builds and listens; resolves with `{ app, url, close }`. */
export async function start({ port = 3000, host = '127.0.0.1', ...options } = {}) {
  const app = await build(options)
  await app.listen({ port, host })
  return { app, url: `http://${host}:${app.server.address().port}`, close: () => app.close() }
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  const { app, url } = await start({ port: Number(process.env.PORT ?? 3000), logger: { level: 'warn' } })
  closeWithGrace(() => app.close())
  console.log(`Dashboard (Fastify) listening on ${url}
  curl ${url}/dashboard/1     # user, posts and stats fetched in parallel
  curl ${url}/dashboard/42    # 404 from the upstream: the first failure cancels the other calls`)
}
