// Matrix rows 1 and 2: a client that goes away before the response completes aborts the request's
// group with ERR_CLIENT_CLOSED_REQUEST (H2) — for a GET, and for a POST whose JSON body was already
// parsed (the case where `req` 'close' fires right after the body, long before any disconnect).
// Also H4: the cancellation that then escapes the handler is never logged as an error.
import type { TaskGroup } from '@taskscope/core'
import { ClientDisconnectedError, isCancellation } from '@taskscope/core'
import { cleanup, codeOf, deferred, httpRequest, rawConnect, rawHttpRequest, untilAborted, waitForAbort } from '@taskscope/test-support'
import { afterEach, describe, expect, it, vi } from 'vitest'
import { frameworks, roundTrip } from './helpers/servers.ts'

afterEach(cleanup)

describe.each(frameworks)('$name: client disconnect', (fw) => {
  it('GET: destroying the socket mid-handler aborts the group with ERR_CLIENT_CLOSED_REQUEST; the task sees it', async () => {
    const started = deferred<TaskGroup>()
    const taskSaw = deferred<unknown>()
    const handlerThrew = deferred<unknown>()
    const app = await fw.start({
      routes: [
        {
          method: 'GET',
          path: '/slow',
          handler: async ({ taskGroup }) => {
            const task = taskGroup.createTask((signal) => untilAborted(signal, taskSaw), { name: 'slow' })
            started.resolve(taskGroup)
            try {
              return await task
            } catch (error) {
              handlerThrew.resolve(error)
              throw error
            }
          },
        },
      ],
    })

    const conn = await rawConnect(app.port)
    conn.write(rawHttpRequest({ path: '/slow' }))
    const group = await started.promise
    expect(group.signal.aborted).toBe(false)
    expect(conn.received()).toBe('')

    conn.destroy()
    const reason = await waitForAbort(group.signal)
    expect(reason).toBeInstanceOf(ClientDisconnectedError)
    expect(codeOf(reason)).toBe('ERR_CLIENT_CLOSED_REQUEST')
    expect(reason).toMatchObject({ statusCode: 499, expose: true })
    expect(codeOf(await taskSaw.promise)).toBe('ERR_CLIENT_CLOSED_REQUEST')
    expect(isCancellation(await handlerThrew.promise)).toBe(true)

    await vi.waitFor(() => expect(app.stats().requests.active).toBe(0))
    await roundTrip(app)
    expect(app.logs.loudCancellations()).toEqual([])
  })

  describe.each(['net socket', 'http.request'] as const)('POST with a parsed JSON body (%s)', (client) => {
    it('is not aborted while the client is connected, and is aborted with ERR_CLIENT_CLOSED_REQUEST once it leaves', async () => {
      const payload = { order: 42, items: ['a', 'b'], note: 'x'.repeat(2_000) }
      const started = deferred<{ body: unknown; abortedAtStart: boolean }>()
      const taskSaw = deferred<unknown>()
      let group: TaskGroup | undefined
      const app = await fw.start({
        routes: [
          {
            method: 'POST',
            path: '/upload',
            handler: ({ taskGroup, body }) => {
              group = taskGroup
              const task = taskGroup.createTask((signal) => untilAborted(signal, taskSaw), { name: 'process-upload' })
              started.resolve({ body, abortedAtStart: taskGroup.signal.aborted })
              return task
            },
          },
          {
            // Reports the upload's group as seen at a moment the test chooses.
            method: 'GET',
            path: '/probe',
            handler: () => ({
              aborted: group?.signal.aborted ?? null,
              reason: (codeOf(group?.signal.reason) as string | undefined) ?? null,
            }),
          },
        ],
      })

      let disconnect: () => void
      if (client === 'net socket') {
        const conn = await rawConnect(app.port)
        conn.write(rawHttpRequest({ method: 'POST', path: '/upload', body: payload }))
        disconnect = () => conn.destroy()
      } else {
        const call = httpRequest(app.port, { method: 'POST', path: '/upload', body: payload })
        disconnect = () => call.req.destroy()
      }

      const atStart = await started.promise
      expect(atStart.body).toEqual(payload) // the framework's JSON parser consumed the whole body
      expect(atStart.abortedAtStart).toBe(false)

      // A full round trip on another connection later the client is still there: the group must
      // still be live (the body was read, so `req` 'close' has fired by now — that is not a disconnect).
      const probe = await httpRequest(app.port, { path: '/probe' }).response
      expect(probe.json()).toEqual({ aborted: false, reason: null })
      expect(taskSaw.settled).toBe(false)

      disconnect()
      const reason = await waitForAbort(group!.signal)
      expect(codeOf(reason)).toBe('ERR_CLIENT_CLOSED_REQUEST')
      expect(codeOf(await taskSaw.promise)).toBe('ERR_CLIENT_CLOSED_REQUEST')

      await vi.waitFor(() => expect(app.stats().requests.active).toBe(0))
      await roundTrip(app)
      expect(app.logs.loudCancellations()).toEqual([])
    })
  })

  it('a group first touched after the client already left is born aborted (lazy creation replays the disconnect)', async () => {
    const arrived = deferred()
    const proceed = deferred()
    const seen = deferred<{ aborted: boolean; reason: unknown }>()
    const app = await fw.start({
      routes: [
        {
          method: 'POST',
          path: '/late',
          handler: async (ctx) => {
            arrived.resolve()
            await proceed.promise // the test disconnects meanwhile; the group was never touched
            const group = ctx.taskGroup
            if (!group.signal.aborted) await waitForAbort(group.signal)
            seen.resolve({ aborted: group.signal.aborted, reason: codeOf(group.signal.reason) })
            return 'late'
          },
        },
      ],
    })
    const conn = await rawConnect(app.port)
    conn.write(rawHttpRequest({ method: 'POST', path: '/late', body: { a: 1 } }))
    await arrived.promise
    conn.destroy()
    await conn.closed
    // The server must have seen the close before the handler goes on: a round trip on another
    // connection is past the server-side 'close' of the first one.
    await roundTrip(app)
    proceed.resolve()
    expect(await seen.promise).toEqual({ aborted: true, reason: 'ERR_CLIENT_CLOSED_REQUEST' })
  })
})
