// Matrix row 8 (H5): 1,000 requests over one keep-alive socket raise no MaxListenersExceededWarning
// and leave no listeners behind. Every request touches its group (one awaited task; every other
// request also leaves a straggler to be cancelled at completion), alternating GET and POST-with-body,
// so each detector path (response close, request close, socket fallback) is installed and removed.
import type { Socket } from 'node:net'
import { cleanup, collectWarnings, httpRequest, keepAliveAgent, untilAborted } from '@taskscope/test-support'
import { afterEach, describe, expect, it, vi } from 'vitest'
import { frameworks, type RouteContext } from './helpers/servers.ts'

afterEach(cleanup)

const REQUESTS = 1_000
const EVENTS = ['close', 'end', 'error', 'timeout', 'data', 'drain'] as const

describe.each(frameworks)('$name: listener hygiene', (fw) => {
  it(`${REQUESTS} requests over one keep-alive socket: no MaxListenersExceededWarning, no listeners left behind`, async () => {
    const { warnings, flush } = collectWarnings()
    const sockets = new Set<Socket>()
    const perRequest: Record<(typeof EVENTS)[number], number>[] = []
    const handler = async ({ taskGroup, socket, params }: RouteContext) => {
      const i = Number(params.i)
      sockets.add(socket!)
      const value = await taskGroup.createTask(async (signal) => (signal.aborted ? -1 : i))
      if (i % 2 === 0) taskGroup.createTask(untilAborted, { name: 'straggler' })
      perRequest.push(Object.fromEntries(EVENTS.map((e) => [e, socket!.listenerCount(e)])) as never)
      return { value }
    }
    const app = await fw.start({
      routes: [
        { method: 'GET', path: '/n/:i', handler },
        { method: 'POST', path: '/n/:i', handler },
      ],
    })
    const agent = keepAliveAgent()
    for (let i = 0; i < REQUESTS; i++) {
      const post = i % 2 === 1
      const res = await httpRequest(app.port, {
        method: post ? 'POST' : 'GET',
        path: `/n/${i}`,
        agent,
        ...(post ? { body: { i, pad: 'p'.repeat(64) } } : {}),
      }).response
      if (res.status !== 200) expect.fail(`request ${i} answered ${res.status}: ${res.body}`)
    }
    expect(sockets.size).toBe(1) // really one connection

    await vi.waitFor(() => expect(app.stats().requests.active).toBe(0))
    await flush()
    const maxListenerWarnings = warnings.filter((w) => w.name === 'MaxListenersExceededWarning')
    expect(maxListenerWarnings.map((w) => w.message)).toEqual([])

    // Listener counts on the shared socket, sampled at the same point of every request, stay flat.
    for (const event of EVENTS) {
      const counts = perRequest.map((sample) => sample[event])
      expect(Math.max(...counts) - Math.min(...counts), `socket '${event}' listeners drift`).toBeLessThanOrEqual(1)
    }
    // And once the requests are over, nothing of ours is left on it.
    const [socket] = sockets
    for (const event of EVENTS) {
      expect(socket!.listenerCount(event), `socket '${event}' listeners after the last request`).toBeLessThanOrEqual(perRequest[0]![event])
    }
  })
})
