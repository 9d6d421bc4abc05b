// Matrix row 6: normal completion is never reported as a disconnect (H3). A task still running when
// the response completes is cancelled with ERR_REQUEST_FINISHED — after the response was written —
// and an unobserved task failure is logged through the framework's logger.
import type { TaskGroup } from '@taskscope/core'
import { RequestFinishedError } from '@taskscope/core'
import { cleanup, codeOf, deferred } from '@taskscope/test-support'
import request from 'supertest'
import { afterEach, describe, expect, it, vi } from 'vitest'
import { frameworks } from './helpers/servers.ts'

afterEach(cleanup)

describe.each(frameworks)('$name: normal completion', (fw) => {
  describe.each(['GET', 'POST'] as const)('%s', (method) => {
    it('a straggler task is cancelled with ERR_REQUEST_FINISHED (never ERR_CLIENT_CLOSED_REQUEST), after the response was written', async () => {
      const straggler = deferred<unknown>()
      const state = deferred<{ group: TaskGroup; writtenAtStart: number; writtenAtAbort: Promise<number> }>()
      const app = await fw.start({
        routes: [
          {
            method,
            path: '/work',
            handler: ({ taskGroup, body, socket }) => {
              const writtenAtStart = socket?.bytesWritten ?? 0
              const writtenAtAbort = deferred<number>()
              taskGroup.createTask(
                (signal) =>
                  new Promise((_, reject) => {
                    signal.addEventListener(
                      'abort',
                      () => {
                        writtenAtAbort.resolve(socket?.bytesWritten ?? 0)
                        straggler.resolve(signal.reason)
                        reject(signal.reason)
                      },
                      { once: true },
                    )
                  }),
                { name: 'straggler' },
              )
              state.resolve({ group: taskGroup, writtenAtStart, writtenAtAbort: writtenAtAbort.promise })
              return { ok: true, echo: body ?? null }
            },
          },
        ],
      })

      const res = method === 'GET' ? await request(app.url).get('/work') : await request(app.url).post('/work').send({ hello: 'world' })
      expect(res.status).toBe(200)
      expect(res.body).toEqual({ ok: true, echo: method === 'GET' ? null : { hello: 'world' } })

      const reason = await straggler.promise
      expect(reason).toBeInstanceOf(RequestFinishedError)
      expect(codeOf(reason)).toBe('ERR_REQUEST_FINISHED')
      const { group, writtenAtStart, writtenAtAbort } = await state.promise
      expect(codeOf(group.signal.reason)).not.toBe('ERR_CLIENT_CLOSED_REQUEST')
      // The straggler was cancelled once the response had been handed to the socket, not before
      // (Koa's middleware `finally` runs before the body is written: ending the group there is wrong).
      expect(await writtenAtAbort).toBeGreaterThan(writtenAtStart)

      await vi.waitFor(() => expect(app.stats().requests.active).toBe(0))
    })

    it('a handler that leaves nothing running is not reported as a disconnect either', async () => {
      const groups: TaskGroup[] = []
      const app = await fw.start({
        routes: [
          {
            method,
            path: '/quick',
            handler: async ({ taskGroup }) => {
              groups.push(taskGroup)
              const value = await taskGroup.createTask(async (signal) => (signal.aborted ? 'aborted' : 'done'))
              return { value }
            },
          },
        ],
      })
      const res = method === 'GET' ? await request(app.url).get('/quick') : await request(app.url).post('/quick').send({ n: 1 })
      expect(res.status).toBe(200)
      expect(res.body).toEqual({ value: 'done' })
      await vi.waitFor(() => expect(app.stats().requests.active).toBe(0))
      expect(groups).toHaveLength(1)
      expect(codeOf(groups[0]!.signal.reason)).not.toBe('ERR_CLIENT_CLOSED_REQUEST')
    })
  })

  it('an unobserved task failure is logged at error level through the framework logger', async () => {
    const app = await fw.start({
      routes: [
        {
          method: 'GET',
          path: '/fire-and-forget',
          handler: ({ taskGroup }) => {
            // Nobody awaits this task: its failure must be reported when the group closes, not lost
            // (H3, G6). It fails on a microtask, long before the response completes.
            taskGroup.createTask(async () => {
              throw new Error('unobserved-boom')
            })
            return 'ok'
          },
        },
      ],
    })
    const res = await request(app.url).get('/fire-and-forget')
    expect(res.status).toBe(200)
    expect(res.text).toBe('ok')
    await vi.waitFor(() =>
      expect(app.logs.entries.filter((e) => e.level === 'error' && e.text.includes('unobserved-boom'))).not.toEqual([]),
    )
    if (fw.name === 'fastify') {
      // Fastify: through request.log, so the line carries the request id.
      const line = app.logs.entries.find((e) => e.level === 'error' && e.text.includes('unobserved-boom'))!
      expect(line.text).toContain('reqId')
    }
  })
})
