/**
 * Dashboard (Koa 3): one request fetches a user, their posts and their stats in parallel, as
 * three tasks of `ctx.taskGroup`. They run at the same time; if one fails the others are
 * cancelled; if the client disconnects, all three upstream fetches are aborted.
 *
 *   node examples/dashboard/koa.mjs
 *   curl http://localhost:3000/dashboard/1
 */
import { once } from 'node:events'
import { pathToFileURL } from 'node:url'
import { concurrency } from '@taskscope/koa'
import closeWithGrace from 'close-with-grace'
import Koa from 'koa'
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
        status: notFound ? 404 : 502,
        expose: true,
      },
    )
  }
  return response.json()
}

/** Builds the app; `c` is the concurrency middleware (stats, close, attach). */
export function build({ upstreamUrl }) {
  const app = new Koa()
  const c = concurrency()
  app.use(c) // first: every middleware below gets ctx.taskGroup

  // GET /dashboard/:userId (a router such as @koa/router would match this for you)
  app.use(async (ctx, next) => {
    const match = /^\/dashboard\/([^/]+)$/.exec(ctx.path)
    if (ctx.method !== 'GET' || match === null) return next()
    const base = `${upstreamUrl}/users/${encodeURIComponent(decodeURIComponent(match[1]))}`
    const { taskGroup } = ctx
    const [user, posts, stats] = await Promise.all([
      taskGroup.createTask((signal) => getJSON(base, signal), { name: 'user' }),
      taskGroup.createTask((signal) => getJSON(`${base}/posts`, signal), { name: 'posts' }),
      taskGroup.createTask((signal) => getJSON(`${base}/stats`, signal), { name: 'stats' }),
    ])
    ctx.body = { user, posts, stats }
  })
  return { app, c }
}

/** Listens; without `upstreamUrl`, starts a local upstream too. Resolves with `{ app, c, server, url, close }`. */
export async function start({ port = 3000, host = '127.0.0.1', upstreamUrl } = {}) {
  const upstream = upstreamUrl === undefined ? await startUpstream() : undefined
  const { app, c } = build({ upstreamUrl: upstreamUrl ?? upstream.url })
  const server = c.attach(app.listen(port, host)) // attach: c.close() drains and closes the server
  await once(server, 'listening')
  const close = async () => {
    await c.close()
    await upstream?.close()
  }
  return { app, c, server, url: `http://${host}:${server.address().port}`, close }
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  const { url, close } = await start({ port: Number(process.env.PORT ?? 3000) })
  closeWithGrace(close)
  console.log(`Dashboard (Koa) listening on ${url}
  curl ${url}/dashboard/1     # user, posts and stats fetched in parallel
  curl ${url}/dashboard/42    # 404 from the upstream: the first failure cancels the other calls`)
}
