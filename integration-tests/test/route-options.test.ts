// Per-route request-group options, the same on all three frameworks: Fastify's `config.concurrency`,
// `c.route({ limit, timeout })` in Express and Koa (helpers/servers.ts maps `Route.concurrency`).
import { TimeoutError } from '@taskscope/core'
import { cleanup, deferred, untilAborted } from '@taskscope/test-support'
import request from 'supertest'
import { afterEach, describe, expect, it } from 'vitest'
import { frameworks } from './helpers/servers.ts'

afterEach(cleanup)

describe.each(frameworks)('$name: per-route limit and timeout', (fw) => {
  it("a route's timeout cancels the request's tasks with a TimeoutError, answered 504", async () => {
    const reason = deferred<unknown>()
    const app = await fw.start({
      routes: [
        {
          method: 'GET',
          path: '/slow',
          concurrency: { timeout: 20 },
          handler: ({ taskGroup }) =>
            taskGroup.createTask(async (signal: AbortSignal) => {
              try {
                return await untilAborted(signal)
              } finally {
                reason.resolve(signal.reason)
              }
            }),
        },
        { method: 'GET', path: '/plain', handler: ({ taskGroup }) => taskGroup.createTask(async () => 'no timeout') },
      ],
    })
    expect((await request(app.url).get('/slow')).status).toBe(504)
    expect(await reason.promise).toBeInstanceOf(TimeoutError)
    expect((await request(app.url).get('/plain')).text).toBe('no timeout')
    expect(app.logs.loudCancellations()).toEqual([])
  })

  it("a route's limit queues the request's tasks beyond it", async () => {
    const app = await fw.start({
      routes: [
        {
          method: 'GET',
          path: '/limited',
          concurrency: { limit: 1 },
          handler: async ({ taskGroup }) => {
            const gate = deferred()
            const first = taskGroup.createTask(() => gate.promise)
            const second = taskGroup.createTask(async () => 'second')
            const statuses = [first.status, second.status]
            gate.resolve()
            await Promise.all([first, second])
            return { statuses }
          },
        },
      ],
    })
    expect((await request(app.url).get('/limited')).body).toEqual({ statuses: ['running', 'queued'] })
  })
})
