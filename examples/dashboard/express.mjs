/**
 * Dashboard (Express 5): one request fetches a user, their posts and their stats in parallel, as
 * three tasks of `req.taskGroup`. They run at the same time; if one fails the others are
 * cancelled; if the client disconnects, all three upstream fetches are aborted.
 *
 *   node examples/dashboard/express.mjs
 *   curl http://localhost:3000/dashboard/1
 */
import { once } from 'node:events'
import { pathToFileURL } from 'node:url'
import { concurrency } from '@taskscope/express'
import closeWithGrace from 'close-with-grace'
import express from 'express'
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
      },
    )
  }
  return response.json()
}

/** Builds the app; `c` is the concurrency middleware (stats, close, attach). */
export function build({ upstreamUrl }) {
  const app = express()
  const c = concurrency()
  app.use(c) // first: every route below gets req.taskGroup

  app.get('/dashboard/:userId', async (req, res) => {
    const base = `${upstreamUrl}/users/${encodeURIComponent(req.params.userId)}`
    const { taskGroup } = req
    const [user, posts, stats] = await Promise.all([
      taskGroup.createTask((signal) => getJSON(base, signal), { name: 'user' }),
      taskGroup.createTask((signal) => getJSON(`${base}/posts`, signal), { name: 'posts' }),
      taskGroup.createTask((signal) => getJSON(`${base}/stats`, signal), { name: 'stats' }),
    ])
    res.json({ user, posts, stats })
  })

  app.use(c.errorHandler()) // after the routes: a cancelled request (client gone) ends quietly, never as a 500
  app.use((error, req, res, next) =>
    res.status(error.status ?? 500).json({ error: error.status ? error.message : 'Internal Server Error' }),
  )
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
  console.log(`Dashboard (Express) listening on ${url}
  curl ${url}/dashboard/1     # user, posts and stats fetched in parallel
  curl ${url}/dashboard/42    # 404 from the upstream: the first failure cancels the other calls`)
}
