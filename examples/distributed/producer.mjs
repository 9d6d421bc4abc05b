/**
 * The producer: a Fastify app whose `backgroundTasks` is the BullMQ queue. It adds newsletter jobs
 * (202 at once, the job runs on a worker process), reads them back from the queue whoever runs
 * them, and cancels them wherever they run. It runs no job itself (`concurrency: 0`).
 *
 *   REDIS_URL=redis://127.0.0.1:6379 node examples/distributed/producer.mjs
 *   curl -X POST -H 'content-type: application/json' -d '{"subject":"Hello","recipients":20}' http://localhost:3000/newsletter
 *   curl http://localhost:3000/jobs
 *   curl http://localhost:3000/jobs/<id>/wait
 *   curl -X POST http://localhost:3000/jobs/<id>/cancel
 */
import { pathToFileURL } from 'node:url'
import concurrencyPlugin from '@taskscope/fastify'
import closeWithGrace from 'close-with-grace'
import Fastify from 'fastify'
import { newsletterQueue, sendNewsletter } from './newsletter.mjs'

const body = {
  type: 'object',
  required: ['subject'],
  properties: {
    subject: { type: 'string', minLength: 1, maxLength: 200 },
    recipients: { type: 'integer', minimum: 1, maximum: 10_000, default: 10 },
    msPerEmail: { type: 'integer', minimum: 0, maximum: 10_000, default: 100 },
    // Optional: adding an id the queue holds returns that job instead of adding another.
    id: { type: 'string', pattern: '^[A-Za-z][\\w.-]{0,99}$' },
  },
}

export async function build({ logger = false } = {}) {
  const backgroundTasks = newsletterQueue({ concurrency: 0 })
  const app = Fastify({ logger })
  // app.close() shuts the registry down with the app.
  await app.register(concurrencyPlugin, { backgroundTasks })

  /** The handles of the last 1000 jobs added here. */
  const handles = new Map()

  app.post('/newsletter', { schema: { body } }, async (request, reply) => {
    const { id, ...data } = request.body
    const job = app.backgroundTasks.add(sendNewsletter, data, { id })
    handles.delete(job.id)
    handles.set(job.id, job)
    if (handles.size > 1000) handles.delete(handles.keys().next().value)
    return reply.code(202).send({ id: job.id, status: job.status })
  })

  // A handle is awaitable: it settles here when any worker has run the job.
  app.get('/jobs/:id/wait', async (request, reply) => {
    const job = handles.get(request.params.id)
    if (job === undefined) return reply.code(404).send({ error: `no job "${request.params.id}" was added by this process` })
    try {
      return { id: job.id, status: 'fulfilled', result: await job }
    } catch (error) {
      return { id: job.id, status: job.status, error: { name: error.name, message: error.message, code: error.code } }
    }
  })

  // get() and list() read the queue: they see every job, whichever process added or runs it.
  app.get('/jobs', async () => app.backgroundTasks.list({ status: ['queued', 'running', 'fulfilled', 'rejected', 'cancelled'], limit: 20 }))

  app.get('/jobs/:id', async (request, reply) => {
    const info = await app.backgroundTasks.get(request.params.id)
    if (info === undefined) return reply.code(404).send({ error: `no job "${request.params.id}" in the queue` })
    return { ...info, error: info.error && { name: info.error.name, message: info.error.message, code: info.error.code } }
  })

  // Cancels the job wherever it is: removed if still queued, its signal aborted on the worker running it.
  app.post('/jobs/:id/cancel', async (request, reply) => {
    await app.backgroundTasks.cancel(request.params.id, 'cancelled over HTTP')
    return reply.code(202).send({ id: request.params.id })
  })

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
  closeWithGrace({ delay: 10_000 }, () => app.close())
  // Started by start.mjs: if it goes away without stopping us, stop too.
  process.once('disconnect', () => app.close().then(() => process.exit(0)))
  console.log(`producer listening on ${url}`)
  process.send?.({ ready: true, url })
}
