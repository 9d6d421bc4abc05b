/**
 * Task manager (Koa 3), the original docs' practice exercise: POST /tasks starts a named
 * background job, GET /tasks/:id waits for it on an `AsyncEvent` (up to `?timeout=` ms), DELETE
 * /tasks/:id cancels it, GET /tasks lists them. The model is in task-manager.mjs.
 *
 *   node examples/task-manager/koa.mjs
 *   curl -X POST -H 'content-type: application/json' -d '{"name":"report","steps":10}' http://localhost:3000/tasks
 */
import { once } from 'node:events'
import { json } from 'node:stream/consumers'
import { pathToFileURL } from 'node:url'
import { concurrency } from '@taskscope/koa'
import closeWithGrace from 'close-with-grace'
import Koa from 'koa'
import { parseStart, TaskManager } from './task-manager.mjs'

/** Builds the app; `c` is the concurrency middleware (stats, close, attach). */
export function build({ stepMs } = {}) {
  const app = new Koa()
  const c = concurrency()
  app.use(c) // first: every middleware below gets ctx.taskGroup
  const tasks = new TaskManager(c.backgroundTasks, { stepMs })

  // The routes (a router such as @koa/router, and a body parser, would do the matching for you).
  app.use(async (ctx, next) => {
    const id = /^\/tasks\/([^/]+)$/.exec(ctx.path)?.[1]
    if (ctx.path === '/tasks' && ctx.method === 'POST') {
      const { name, steps } = parseStart(ctx.is('application/json') ? await json(ctx.req).catch(() => ctx.throw(400, 'invalid JSON')) : {})
      const task = tasks.start(name, steps) // ClosedError (503) while shutting down
      ctx.status = 202
      ctx.set('location', `/tasks/${task.id}`)
      ctx.body = task
    } else if (ctx.path === '/tasks' && ctx.method === 'GET') {
      ctx.body = { active: tasks.list().filter((t) => t.status === 'running').length, tasks: tasks.list() }
    } else if (id !== undefined && ctx.method === 'GET') {
      const timeout = Math.min(Number(ctx.query.timeout ?? 30_000) || 0, 60_000)
      const task = await tasks.wait(id, { signal: ctx.taskGroup.signal, timeout })
      if (task === undefined) ctx.throw(404, 'no such task')
      ctx.status = task.status === 'running' ? 202 : 200
      ctx.body = task
    } else if (id !== undefined && ctx.method === 'DELETE') {
      const current = tasks.list().find((t) => t.id === id)
      if (current === undefined) ctx.throw(404, 'no such task')
      if (current.status !== 'running') ctx.throw(409, `the task already ended (${current.status})`)
      ctx.body = await tasks.cancel(id)
    } else {
      await next()
    }
  })
  return { app, c }
}

/** Listens; resolves with `{ app, c, server, url, close }`. */
export async function start({ port = 3000, host = '127.0.0.1', ...options } = {}) {
  const { app, c } = build(options)
  const server = c.attach(app.listen(port, host)) // attach: c.close() drains and closes the server
  await once(server, 'listening')
  return { app, c, server, url: `http://${host}:${server.address().port}`, close: () => c.close() }
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  const { url, close } = await start({ port: Number(process.env.PORT ?? 3000) })
  closeWithGrace(close)
  console.log(`Task manager (Koa) listening on ${url}
  curl -X POST -H 'content-type: application/json' -d '{"name":"report","steps":10}' ${url}/tasks
  curl ${url}/tasks                 # every task, with status and progress
  curl ${url}/tasks/<id>            # waits until the task ends (or ?timeout=ms)
  curl -X DELETE ${url}/tasks/<id>  # cancels it`)
}
