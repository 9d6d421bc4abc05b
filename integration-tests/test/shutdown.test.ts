// Matrix row 9 (H6): shutdown through each framework's own close — `app.close()` (Fastify),
// `c.close()` with `c.attach(server)` (Express, Koa).
//  - a slow in-flight request on a keep-alive client finishes successfully, with `Connection: close`,
//    and close resolves once it is done (servers use a 60 s keepAliveTimeout, so a close that waits
//    for the idle keep-alive socket runs into the 20 s test timeout instead of passing slowly);
//  - new background tasks are refused (ERR_CLOSED) from the start of the drain;
//  - a running background task is drained (completes within the timeout), or, with a short
//    shutdownTimeout, cancelled with ERR_SHUTTING_DOWN;
//  - the pool is closed, the server is closed and no socket is left open.

import type { BackgroundTask } from '@taskscope/core'
import { ShutdownError } from '@taskscope/core'
import {
  agentSocketCount,
  cleanup,
  codeOf,
  connectionCount,
  deferred,
  httpRequest,
  keepAliveAgent,
  sumTo,
  untilAborted,
} from '@taskscope/test-support'
import request from 'supertest'
import { afterEach, describe, expect, it, vi } from 'vitest'
import { frameworks } from './helpers/servers.ts'

afterEach(cleanup)

/** TCP handles still open in this process (servers and sockets). */
const openTcpHandles = () => process.getActiveResourcesInfo().filter((r) => r === 'TCPServerWrap' || r === 'TCPSocketWrap')

describe.each(frameworks)('$name: shutdown', (fw) => {
  it('drains: the in-flight keep-alive request completes with Connection: close, the background task drains, then close resolves', async () => {
    const inFlight = deferred()
    const releaseRequest = deferred()
    const releaseJob = deferred<string>()
    let job: BackgroundTask | undefined
    let lateAdd: { code: unknown } | 'accepted' | undefined
    const app = await fw.start({
      shutdownTimeout: 15_000,
      routes: [
        {
          method: 'GET',
          path: '/slow',
          handler: async ({ backgroundTasks, threadpool, taskGroup }) => {
            const sum = await threadpool.run(sumTo, [1_000]) // the pool is in use
            job = backgroundTasks.add(
              async (signal) => {
                await releaseJob.promise
                return signal.aborted ? `aborted:${codeOf(signal.reason)}` : 'drained'
              },
              { name: 'drain-me' },
            )
            inFlight.resolve()
            await releaseRequest.promise
            // Draining has started by now: an in-flight handler cannot start new background work either.
            try {
              backgroundTasks.add(async () => 'late', { name: 'late' })
              lateAdd = 'accepted'
            } catch (error) {
              lateAdd = { code: codeOf(error) }
            }
            return { sum, groupAborted: taskGroup.signal.aborted }
          },
        },
      ],
    })

    const agent = keepAliveAgent()
    // One finished request first, so the slow one runs on a reused keep-alive connection.
    const warm = await httpRequest(app.port, { path: '/__ping', agent }).response
    expect(warm.headers.connection).not.toBe('close')
    const call = httpRequest(app.port, { path: '/slow', agent })
    await inFlight.promise

    let closed = false
    const closing = app.close().then(() => {
      closed = true
    })
    await vi.waitFor(() => expect(app.stats().draining).toBe(true))
    expect(() => app.backgroundTasks.add(async () => 'refused', { name: 'refused' })).toThrow(
      expect.objectContaining({ code: 'ERR_CLOSED' }),
    )

    releaseRequest.resolve()
    const res = await call.response
    expect(res.status).toBe(200)
    expect(res.json()).toEqual({ sum: 500_500, groupAborted: false })
    expect(res.headers.connection).toBe('close') // so the keep-alive client lets go
    expect(lateAdd).toEqual({ code: 'ERR_CLOSED' })

    // The background task is still running: close must wait for it (the timeout is 15 s).
    expect(job!.status).toBe('running')
    expect(job!.signal.aborted).toBe(false)
    expect(closed).toBe(false)
    releaseJob.resolve('go')
    await closing
    expect(await job!).toBe('drained')
    expect(job!.status).toBe('fulfilled')

    // Pool closed, server closed, no sockets left.
    await expect(app.threadpool.run(sumTo, [10])).rejects.toMatchObject({ code: 'ERR_CLOSED' })
    expect(app.server.listening).toBe(false)
    expect(await connectionCount(app.server)).toBe(0)
    await vi.waitFor(() => expect(agentSocketCount(agent)).toBe(0))
    await vi.waitFor(() => expect(openTcpHandles()).toEqual([]))
  })

  it('with a short shutdownTimeout, a background task still running is cancelled with ERR_SHUTTING_DOWN', async () => {
    const sawReason = deferred<unknown>()
    const app = await fw.start({
      shutdownTimeout: 50,
      routes: [
        {
          method: 'POST',
          path: '/jobs',
          handler: ({ backgroundTasks, status }) => {
            const job = backgroundTasks.add((signal) => untilAborted(signal, sawReason), { name: 'endless' })
            status(202)
            return { id: job.id }
          },
        },
      ],
    })
    const res = await request(app.url).post('/jobs').set('Connection', 'close').send({})
    expect(res.status).toBe(202)
    const job = app.backgroundTasks.get(res.body.id)!
    expect(job.status).toBe('running')

    await app.close()
    const reason = await sawReason.promise
    expect(reason).toBeInstanceOf(ShutdownError)
    expect(codeOf(reason)).toBe('ERR_SHUTTING_DOWN')
    expect(job.status).toBe('cancelled')
    expect(() => app.backgroundTasks.add(async () => 1)).toThrow(expect.objectContaining({ code: 'ERR_CLOSED' }))
    expect(app.stats().draining).toBe(true)
    expect(app.server.listening).toBe(false)
    await vi.waitFor(() => expect(openTcpHandles()).toEqual([]))
  })

  it('an idle app with an idle keep-alive client closes at once', async () => {
    const app = await fw.start({ routes: [] })
    const agent = keepAliveAgent()
    const res = await httpRequest(app.port, { path: '/__ping', agent }).response
    expect(res.status).toBe(200)
    // The kept-alive idle socket does not hold the close up.
    await app.close()
    expect(app.server.listening).toBe(false)
    await vi.waitFor(() => expect(agentSocketCount(agent)).toBe(0))
    expect(app.stats().requests.active).toBe(0)
  })
})
