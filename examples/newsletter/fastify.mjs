/**
 * Newsletter (Fastify): POST /newsletter answers 202 at once and sends the emails in an
 * app-lifetime background task (`app.backgroundTasks.add`). The job outlives the request (work
 * started in `request.taskGroup` would be cancelled when the response completes), a failure is
 * logged instead of crashing the process, and `app.close()` lets running jobs finish (up to the
 * shutdown timeout) before cancelling the rest. GET /newsletter/status counts the active jobs.
 *
 *   node examples/newsletter/fastify.mjs
 *   curl -X POST -H 'content-type: application/json' -d '{"subject":"Hello","recipients":20}' http://localhost:3000/newsletter
 *   curl http://localhost:3000/newsletter/status
 */
import { setTimeout as sleep } from 'node:timers/promises'
import { pathToFileURL } from 'node:url'
import { concurrencyPlugin } from '@taskscope/fastify'
import closeWithGrace from 'close-with-grace'
import Fastify from 'fastify'

/** Pretends to send one email (an SMTP or API call in real life); honours the signal. */
const fakeSend = (recipient, subject, signal) => sleep(200, undefined, { signal })

const body = {
  type: 'object',
  required: ['subject'],
  properties: {
    subject: { type: 'string', minLength: 1, maxLength: 200 },
    recipients: { type: 'integer', minimum: 1, maximum: 10_000, default: 10 },
  },
}

/** The routes, as a Fastify plugin. `send(recipient, subject, signal)` delivers one email. */
export async function newsletterRoutes(app, { send = fakeSend } = {}) {
  let sent = 0

  app.post('/newsletter', { schema: { body } }, async (request, reply) => {
    const { subject, recipients } = request.body
    const job = app.backgroundTasks.add(
      async (signal) => {
        for (let i = 1; i <= recipients; i++) {
          await send(`subscriber-${i}@example.com`, subject, signal) // stops between emails on shutdown
          sent++
        }
        return recipients
      },
      { name: `newsletter: ${subject}` },
    )
    return reply.code(202).send({ id: job.id, name: job.name, recipients })
  })

  app.get('/newsletter/status', async () => {
    const jobs = app.backgroundTasks
      .list()
      .filter((task) => task.name.startsWith('newsletter: '))
      .map((task) => ({ ...task, durationMs: Math.round(task.durationMs) }))
    return { active: jobs.length, sent, jobs }
  })
}

export async function build({ logger = false, send, shutdownTimeout } = {}) {
  const app = Fastify({ logger })
  await app.register(concurrencyPlugin, { shutdownTimeout })
  await app.register(newsletterRoutes, { send })
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
  console.log(`Newsletter (Fastify) listening on ${url}
  curl -X POST -H 'content-type: application/json' -d '{"subject":"Hello","recipients":20}' ${url}/newsletter
  curl ${url}/newsletter/status`)
}
