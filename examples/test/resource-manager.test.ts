// Resource manager: the example runs as its own process; on SIGTERM it drains the slow request
// and the short job, cancels the long job, closes its database last, prints a report, exits 0.

import { cleanup, closeLater, post, request } from '@taskscope/test-support'
import { afterEach, describe, expect, it, vi } from 'vitest'
import { runExample } from './helpers.ts'

afterEach(cleanup)

describe('resource manager (Fastify, child process)', () => {
  it('on SIGTERM reports what was drained and what was cancelled, and exits with code 0', async () => {
    // In-flight work (1 s) has far more time than it needs (shutdown timeout 3 s); the long job
    // (60 s) has not: it is cancelled at the deadline.
    const server = closeLater(runExample('resource-manager/fastify.mjs', { SHUTDOWN_TIMEOUT: '3000' }))
    const [, url] = await server.waitFor(/listening on (http:\/\/\S+)/)

    const slow = request(`${url}/resources/report?ms=1000`)
    expect((await post(`${url}/resources/jobs?ms=1000`, {})).status).toBe(202)
    expect((await post(`${url}/resources/jobs?ms=60000`, {})).status).toBe(202)
    await vi.waitFor(async () => expect((await request(`${url}/resources`)).body.db.inUse).toBe(3), { interval: 20 })

    server.child.kill('SIGTERM')
    await server.waitFor(/SIGTERM received: draining/)
    const response = await slow // the in-flight request was allowed to finish
    expect(response.status).toBe(200)
    expect(response.body.rows).toEqual([{ sql: 'SELECT report', ms: 1000 }])

    expect(await server.exited).toBe(0)
    expect(server.stdout).toMatch(/requests: +1 in flight: 1 drained, 0 cancelled, 0 abandoned/)
    expect(server.stdout).toMatch(/background: +2 running: 1 completed, 0 failed, 1 cancelled, 0 abandoned/)
    expect(server.stdout).toMatch(/database: +closed after 2 completed queries/)
  })
})
