/**
 * Task manager (Express 5), the original docs' practice exercise: POST /tasks starts a named
 * background job, GET /tasks/:id waits for it on an `AsyncEvent` (up to `?timeout=` ms), DELETE
 * /tasks/:id cancels it, GET /tasks lists them. The model is in task-manager.mjs.
 *
 *   node examples/task-manager/express.mjs
 *   curl -X POST -H 'content-type: application/json' -d '{"name":"report","steps":10}' http://localhost:3000/tasks
 */
import { once } from 'node:events'
import { pathToFileURL } from 'node:url'
import { concurrency } from '@taskscope/express'
import closeWithGrace from 'close-with-grace'
import express from 'express'
import { parseStart, TaskManager } from './task-manager.mjs'

/** Builds the app; `c` is the concurrency middleware (stats, close, attach). */
export function build({ stepMs } = {}) {
  const app = express()
  const c = concurrency()
  app.use(c) // first: every route below gets req.taskGroup
  app.use(express.json())
  const tasks = new TaskManager(c.backgroundTasks, { stepMs })

  app.post('/tasks', (req, res) => {
    const { name, steps } = parseStart(req.body)
    const task = tasks.start(name, steps) // ClosedError (503) while shutting down
    res.status(202).location(`/tasks/${task.id}`).json(task)
  })

  app.get('/tasks', (req, res) => {
    res.json({ active: tasks.list().filter((t) => t.status === 'running').length, tasks: tasks.list() })
  })

  app.get('/tasks/:id', async (req, res) => {
    const timeout = Math.min(Number(req.query.timeout ?? 30_000) || 0, 60_000)
    const task = await tasks.wait(req.params.id, { signal: req.taskGroup.signal, timeout })
    if (task === undefined) return res.status(404).json({ error: 'no such task' })
    res.status(task.status === 'running' ? 202 : 200).json(task)
  })

  app.delete('/tasks/:id', async (req, res) => {
    const current = tasks.list().find((t) => t.id === req.params.id)
    if (current === undefined) return res.status(404).json({ error: 'no such task' })
    if (current.status !== 'running') return res.status(409).json({ error: `the task already ended (${current.status})`, task: current })
    res.json(await tasks.cancel(req.params.id))
  })

  app.use(c.errorHandler()) // after the routes: a cancelled request (client gone) ends quietly, never as a 500
  app.use((error, req, res, next) => {
    const status = error.status ?? error.statusCode ?? 500
    res.status(status).json({ error: status < 500 || error.code === 'ERR_CLOSED' ? error.message : 'Internal Server Error' })
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
  console.log(`Task manager (Express) listening on ${url}
  curl -X POST -H 'content-type: application/json' -d '{"name":"report","steps":10}' ${url}/tasks
  curl ${url}/tasks                 # every task, with status and progress
  curl ${url}/tasks/<id>            # waits until the task ends (or ?timeout=ms)
  curl -X DELETE ${url}/tasks/<id>  # cancels it`)
}
