/**
 * Task manager (Fastify), the original docs' practice exercise:
 * - POST /tasks starts a named job in the app's background tasks (it outlives the request);
 * - GET /tasks/:id waits for it to end, on an `AsyncEvent` (no polling), for up to `?timeout=` ms
 *   (202 if it is still running then); a client that leaves stops only its own wait;
 * - DELETE /tasks/:id cancels it; GET /tasks lists every task with its status and progress.
 *
 *   node examples/task-manager/fastify.mjs
 *   curl -X POST -H 'content-type: application/json' -d '{"name":"report","steps":10}' http://localhost:3000/tasks
 *   curl http://localhost:3000/tasks/<id>
 */
import { pathToFileURL } from 'node:url'
import { concurrencyPlugin } from '@taskscope/fastify'
import closeWithGrace from 'close-with-grace'
import Fastify from 'fastify'
import { TaskManager } from './task-manager.mjs'

const startSchema = {
  body: {
    type: 'object',
    required: ['name'],
    properties: {
      name: { type: 'string', minLength: 1, maxLength: 100 },
      steps: { type: 'integer', minimum: 1, maximum: 100_000, default: 10 },
    },
  },
}
const waitSchema = {
  querystring: { type: 'object', properties: { timeout: { type: 'integer', minimum: 0, maximum: 60_000, default: 30_000 } } },
}

/** The routes, as a Fastify plugin. `stepMs`: how long one step of a job takes. */
export async function taskRoutes(app, { stepMs } = {}) {
  const tasks = new TaskManager(app.backgroundTasks, { stepMs })

  app.post('/tasks', { schema: startSchema }, async (request, reply) => {
    const task = tasks.start(request.body.name, request.body.steps) // ClosedError (503) while shutting down
    return reply.code(202).header('location', `/tasks/${task.id}`).send(task)
  })

  app.get('/tasks', async () => ({ active: tasks.list().filter((t) => t.status === 'running').length, tasks: tasks.list() }))

  app.get('/tasks/:id', { schema: waitSchema }, async (request, reply) => {
    const task = await tasks.wait(request.params.id, { signal: request.taskGroup.signal, timeout: request.query.timeout })
    if (task === undefined) return reply.code(404).send({ error: 'no such task' })
    return reply.code(task.status === 'running' ? 202 : 200).send(task)
  })

  app.delete('/tasks/:id', async (request, reply) => {
    const current = tasks.list().find((t) => t.id === request.params.id)
    if (current === undefined) return reply.code(404).send({ error: 'no such task' })
    if (current.status !== 'running') return reply.code(409).send({ error: `the task already ended (${current.status})`, task: current })
    return tasks.cancel(request.params.id)
  })
}

export async function build({ logger = false, stepMs } = {}) {
  const app = Fastify({ logger })
  await app.register(concurrencyPlugin)
  await app.register(taskRoutes, { stepMs })
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
  console.log(`Task manager (Fastify) listening on ${url}
  curl -X POST -H 'content-type: application/json' -d '{"name":"report","steps":10}' ${url}/tasks
  curl ${url}/tasks                 # every task, with status and progress
  curl ${url}/tasks/<id>            # waits until the task ends (or ?timeout=ms)
  curl -X DELETE ${url}/tasks/<id>  # cancels it`)
}
