// Matrix row 4: HTTP/1.1 pipelining. A raw socket writes two requests back-to-back; the first is
// slow, so the second's response is queued behind it and never gets a `res` 'close' of its own when
// the client leaves (research §1.1) — the adapter has to notice through the socket. Both groups must
// abort with ERR_CLIENT_CLOSED_REQUEST and nothing may stay counted as active.
// And the converse: pipelined requests that do complete are never reported as disconnects.
import type { TaskGroup } from '@taskscope/core'
import { cleanup, codeOf, deferred, rawConnect, rawHttpRequest, untilAborted, waitForAbort } from '@taskscope/test-support'
import { afterEach, describe, expect, it, vi } from 'vitest'
import { frameworks, roundTrip } from './helpers/servers.ts'

afterEach(cleanup)

// Pipelined responses follow each other directly: a status line may start mid-line.
const statusLines = (text: string) => text.match(/HTTP\/1\.1 \d{3}/g) ?? []

describe.each(frameworks)('$name: pipelining', (fw) => {
  it.each(['GET', 'POST'] as const)(
    'two pipelined %s requests, first slow, client destroys the socket: both groups abort with ERR_CLIENT_CLOSED_REQUEST',
    async (method) => {
      const started = [deferred<TaskGroup>(), deferred<TaskGroup>()] as const
      const bodies: unknown[] = []
      const app = await fw.start({
        routes: [
          {
            method,
            path: '/pipe/:n',
            handler: ({ taskGroup, params, body }) => {
              const n = Number(params.n) as 0 | 1
              bodies[n] = body ?? null
              const task = taskGroup.createTask(untilAborted, { name: `pipe-${n}` })
              started[n].resolve(taskGroup)
              return task
            },
          },
        ],
      })
      const conn = await rawConnect(app.port)
      const body = (n: number) => (method === 'POST' ? { body: { n } } : {})
      conn.write(rawHttpRequest({ method, path: '/pipe/0', ...body(0) }) + rawHttpRequest({ method, path: '/pipe/1', ...body(1) }))
      // Node hands both pipelined requests to the app at once; the second response is queued.
      const [first, second] = await Promise.all([started[0].promise, started[1].promise])
      expect(bodies).toEqual(method === 'POST' ? [{ n: 0 }, { n: 1 }] : [null, null])
      expect(first).not.toBe(second)
      expect([first.signal.aborted, second.signal.aborted]).toEqual([false, false])

      conn.destroy()
      const reasons = await Promise.all([waitForAbort(first.signal), waitForAbort(second.signal)])
      expect(reasons.map(codeOf)).toEqual(['ERR_CLIENT_CLOSED_REQUEST', 'ERR_CLIENT_CLOSED_REQUEST'])

      // Nothing leaks: both requests leave the runtime's books.
      await vi.waitFor(() => expect(app.stats().requests.active).toBe(0))
      await roundTrip(app)
      expect(app.logs.loudCancellations()).toEqual([])
    },
  )

  it('pipelined requests that complete (the second while queued) are finished, never disconnected', async () => {
    const release = deferred()
    const stragglers = [deferred<unknown>(), deferred<unknown>()] as const
    const firstStarted = deferred()
    const secondAnswered = deferred()
    const app = await fw.start({
      routes: [
        {
          method: 'POST',
          path: '/pipe/:n',
          handler: async ({ taskGroup, params, body }) => {
            const n = Number(params.n) as 0 | 1
            taskGroup.createTask((signal) => untilAborted(signal, stragglers[n]), { name: `straggler-${n}` })
            if (n === 0) {
              firstStarted.resolve()
              await release.promise
            } else {
              secondAnswered.resolve()
            }
            return { n, body }
          },
        },
      ],
    })
    const conn = await rawConnect(app.port)
    conn.write(
      rawHttpRequest({ method: 'POST', path: '/pipe/0', body: { n: 0 } }) +
        rawHttpRequest({ method: 'POST', path: '/pipe/1', body: { n: 1 } }),
    )
    await Promise.all([firstStarted.promise, secondAnswered.promise])
    await roundTrip(app) // let the second response be ended (it stays queued behind the first)
    // A queued response is not complete: its straggler keeps running until it is actually sent.
    expect(stragglers[1].settled).toBe(false)
    expect(statusLines(conn.received())).toEqual([])
    release.resolve()
    const received = await conn.until((text) => statusLines(text).length === 2 && text.includes('"n":1}'))
    expect(statusLines(received)).toEqual(['HTTP/1.1 200', 'HTTP/1.1 200'])

    const reasons = await Promise.all(stragglers.map((d) => d.promise))
    expect(reasons.map(codeOf)).toEqual(['ERR_REQUEST_FINISHED', 'ERR_REQUEST_FINISHED'])
    // Closing the connection afterwards changes nothing for finished requests.
    conn.destroy()
    await conn.closed
    await vi.waitFor(() => expect(app.stats().requests.active).toBe(0))
  })

  it.each(['GET', 'POST'] as const)(
    'a %s response that ended while queued, on a connection the client then closes, ends its group as completed',
    async (method) => {
      const groups = [deferred<TaskGroup>(), deferred<TaskGroup>()] as const
      const straggler = deferred<unknown>()
      const app = await fw.start({
        routes: [
          {
            method,
            path: '/pipe/:n',
            handler: async ({ taskGroup, params }) => {
              const n = Number(params.n) as 0 | 1
              if (n === 0) {
                const task = taskGroup.createTask((signal) => untilAborted(signal), { name: 'slow' })
                groups[0].resolve(taskGroup)
                return task // ends only when the client leaves
              }
              await taskGroup.createTask(async () => 'fast', { name: 'fast' })
              taskGroup.createTask((signal) => untilAborted(signal, straggler), { name: 'straggler' })
              groups[1].resolve(taskGroup)
              return { n } // ended now, but queued behind the slow response
            },
          },
        ],
      })
      const conn = await rawConnect(app.port)
      const body = (n: number) => (method === 'POST' ? { body: { n } } : {})
      conn.write(rawHttpRequest({ method, path: '/pipe/0', ...body(0) }) + rawHttpRequest({ method, path: '/pipe/1', ...body(1) }))
      const [first, second] = await Promise.all([groups[0].promise, groups[1].promise])
      await roundTrip(app) // the second response has been ended by now, still queued
      expect(statusLines(conn.received())).toEqual([])
      expect(second.signal.aborted).toBe(false)

      conn.destroy()
      expect(codeOf(await waitForAbort(first.signal))).toBe('ERR_CLIENT_CLOSED_REQUEST')
      // The server saw the connection close in the same turn: the ended response counts as completed.
      expect(codeOf(second.signal.reason)).toBe('ERR_REQUEST_FINISHED')
      expect(codeOf(await straggler.promise)).toBe('ERR_REQUEST_FINISHED')
      await roundTrip(app)
      expect(app.stats().requests.active).toBe(0)

      // Shutdown finds nothing in flight and nothing to cancel.
      await app.close()
      const warnings = app.logs.entries.filter((e) => e.level === 'warn' && /shut ?down|unfinished/.test(e.text))
      expect(warnings).toEqual([])
      expect(app.logs.entries.some((e) => e.text.includes('shut down cleanly'))).toBe(true)
    },
  )
})
