// Matrix row 3: several sequential requests on one keep-alive socket each get their own group;
// completing one does not affect the next; a disconnect in the middle of the third aborts only the
// third (H2 "keep-alive").
import type { TaskGroup } from '@taskscope/core'
import { cleanup, codeOf, type Deferred, deferred, httpRequest, keepAliveAgent, untilAborted, waitForAbort } from '@taskscope/test-support'
import { afterEach, describe, expect, it, vi } from 'vitest'
import { frameworks } from './helpers/servers.ts'

afterEach(cleanup)

describe.each(frameworks)('$name: keep-alive', (fw) => {
  it.each(['GET', 'POST'] as const)(
    'sequential %s requests on one socket get a fresh group each; finishing one leaves the next alone',
    async (method) => {
      const count = 5
      const groups: TaskGroup[] = []
      const abortedAtStart: boolean[] = []
      const stragglers: Deferred<unknown>[] = []
      const stragglerCodes: unknown[] = []
      const app = await fw.start({
        routes: [
          {
            method,
            path: '/seq/:n',
            handler: ({ taskGroup, params, socket, body }) => {
              const n = Number(params.n)
              groups[n] = taskGroup
              abortedAtStart[n] = taskGroup.signal.aborted
              // Every earlier request finished with its own straggler cancelled; this one is new.
              const previous = stragglerCodes.slice(0, n)
              const straggler = deferred<unknown>()
              stragglers[n] = straggler
              void straggler.promise.then((reason) => (stragglerCodes[n] = codeOf(reason)))
              taskGroup.createTask((signal) => untilAborted(signal, straggler), { name: `straggler-${n}` })
              return { n, port: socket?.remotePort ?? null, previous, body: body ?? null }
            },
          },
        ],
      })
      const agent = keepAliveAgent()
      const ports = new Set<unknown>()
      for (let n = 0; n < count; n++) {
        const res = await httpRequest(app.port, {
          method,
          path: `/seq/${n}`,
          agent,
          ...(method === 'POST' ? { body: { n } } : {}),
        }).response
        expect(res.status).toBe(200)
        const json = res.json()
        expect(json.n).toBe(n)
        expect(json.body).toEqual(method === 'POST' ? { n } : null)
        expect(json.previous).toEqual(Array.from({ length: n }, () => 'ERR_REQUEST_FINISHED'))
        ports.add(json.port)
        // This request's straggler ends with ERR_REQUEST_FINISHED (not a disconnect: the socket stays).
        expect(codeOf(await stragglers[n]!.promise)).toBe('ERR_REQUEST_FINISHED')
      }
      expect(ports.size).toBe(1) // one connection served all of them
      expect(new Set(groups).size).toBe(count) // a distinct group per request
      expect(abortedAtStart).toEqual(Array.from({ length: count }, () => false))
      await vi.waitFor(() => expect(app.stats().requests.active).toBe(0))
    },
  )

  it('a disconnect during the third request on a kept-alive socket aborts only that group', async () => {
    const groups: TaskGroup[] = []
    const slowStarted = deferred<TaskGroup>()
    const app = await fw.start({
      routes: [
        {
          method: 'POST',
          path: '/fast',
          handler: ({ taskGroup, body, socket }) => {
            groups.push(taskGroup)
            return { body, port: socket?.remotePort ?? null }
          },
        },
        {
          method: 'POST',
          path: '/slow',
          handler: ({ taskGroup }) => {
            const task = taskGroup.createTask(untilAborted)
            slowStarted.resolve(taskGroup)
            return task
          },
        },
      ],
    })
    const agent = keepAliveAgent()
    const first = await httpRequest(app.port, { method: 'POST', path: '/fast', body: { i: 1 }, agent }).response
    const second = await httpRequest(app.port, { method: 'POST', path: '/fast', body: { i: 2 }, agent }).response
    expect([first.status, second.status]).toEqual([200, 200])
    expect(first.json().port).toBe(second.json().port)

    const third = httpRequest(app.port, { method: 'POST', path: '/slow', body: { i: 3 }, agent })
    const group = await slowStarted.promise
    expect(group.signal.aborted).toBe(false)
    third.req.destroy()
    expect(codeOf(await waitForAbort(group.signal))).toBe('ERR_CLIENT_CLOSED_REQUEST')
    await expect(third.response).rejects.toThrow()

    // The finished requests were never reported as disconnects, not even now that the socket closed.
    for (const g of groups) expect(codeOf(g.signal.reason)).not.toBe('ERR_CLIENT_CLOSED_REQUEST')
    await vi.waitFor(() => expect(app.stats().requests.active).toBe(0))
  })
})
