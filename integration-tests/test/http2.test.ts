// Matrix row 5: HTTP/2 (h2c). A stream cancelled by the client (RST_STREAM NGHTTP2_CANCEL) aborts the
// group with ERR_CLIENT_CLOSED_REQUEST — even though the compat response emits 'finish' and reports
// `writableFinished === true` on cancel (research §1.1: detect with `writableEnded`). A stream that
// completes is never reported as a disconnect.
//
// Fastify serves HTTP/2 with `Fastify({ http2: true })`, Koa with `http2.createServer(app.callback())`.
// Express is skipped: Express 5 cannot serve node:http2 at all (see the reason in helpers/servers.ts).
import http2 from 'node:http2'
import type { TaskGroup } from '@taskscope/core'
import { cleanup, codeOf, deferred, h2connect, h2request, untilAborted, waitForAbort } from '@taskscope/test-support'
import { afterEach, describe, expect, it, vi } from 'vitest'
import { frameworks } from './helpers/servers.ts'

afterEach(cleanup)

describe.each(frameworks)('$name: HTTP/2', (fw) => {
  const unsupported = fw.http2 !== true

  it.skipIf(unsupported).each(['GET', 'POST'] as const)(
    '%s stream cancelled with NGHTTP2_CANCEL aborts the group with ERR_CLIENT_CLOSED_REQUEST',
    async (method) => {
      const started = deferred<{ group: TaskGroup; body: unknown }>()
      const taskSaw = deferred<unknown>()
      let group: TaskGroup | undefined
      const app = await fw.start({
        http2: true,
        routes: [
          {
            method,
            path: '/stream',
            handler: ({ taskGroup, body }) => {
              group = taskGroup
              const task = taskGroup.createTask((signal) => untilAborted(signal, taskSaw))
              started.resolve({ group: taskGroup, body: body ?? null })
              return task
            },
          },
          { method: 'GET', path: '/probe', handler: () => ({ aborted: group?.signal.aborted ?? null }) },
        ],
      })
      const session = await h2connect(app.url)
      const call = h2request(session, { method, path: '/stream', ...(method === 'POST' ? { body: { h: 2 } } : {}) })
      const { group: g, body } = await started.promise
      expect(body).toEqual(method === 'POST' ? { h: 2 } : null)

      // Another stream on the same session completes while the first is open: still not aborted.
      const probe = await h2request(session, { path: '/probe' }).response
      expect(probe.status).toBe(200)
      expect(JSON.parse(probe.body)).toEqual({ aborted: false })

      call.stream.close(http2.constants.NGHTTP2_CANCEL)
      const reason = await waitForAbort(g.signal)
      expect(codeOf(reason)).toBe('ERR_CLIENT_CLOSED_REQUEST')
      expect(codeOf(await taskSaw.promise)).toBe('ERR_CLIENT_CLOSED_REQUEST')
      await vi.waitFor(() => expect(app.stats().requests.active).toBe(0))
      expect(app.logs.loudCancellations()).toEqual([])
    },
  )

  it.skipIf(unsupported)('a completed stream is finished, never disconnected: its straggler gets ERR_REQUEST_FINISHED', async () => {
    const straggler = deferred<unknown>()
    const app = await fw.start({
      http2: true,
      routes: [
        {
          method: 'POST',
          path: '/done',
          handler: ({ taskGroup, body }) => {
            taskGroup.createTask((signal) => untilAborted(signal, straggler))
            return { echo: body }
          },
        },
      ],
    })
    const session = await h2connect(app.url)
    const res = await h2request(session, { method: 'POST', path: '/done', body: { ok: 1 } }).response
    expect(res.status).toBe(200)
    expect(JSON.parse(res.body)).toEqual({ echo: { ok: 1 } })
    expect(codeOf(await straggler.promise)).toBe('ERR_REQUEST_FINISHED')
    await vi.waitFor(() => expect(app.stats().requests.active).toBe(0))
  })

  it.skipIf(unsupported)('closing the whole session (client goes away) aborts the open stream group', async () => {
    const started = deferred<TaskGroup>()
    const app = await fw.start({
      http2: true,
      routes: [
        {
          method: 'GET',
          path: '/stream',
          handler: ({ taskGroup }) => {
            const task = taskGroup.createTask(untilAborted)
            started.resolve(taskGroup)
            return task
          },
        },
      ],
    })
    const session = await h2connect(app.url)
    h2request(session, { path: '/stream' })
    const group = await started.promise
    session.destroy()
    expect(codeOf(await waitForAbort(group.signal))).toBe('ERR_CLIENT_CLOSED_REQUEST')
    await vi.waitFor(() => expect(app.stats().requests.active).toBe(0))
  })
})
