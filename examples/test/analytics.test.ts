// Daily analytics: an AsyncLazy computed in the worker pool, shared by concurrent requests,
// cached, dropped on refresh; its refresh loop runs as a background task.

import { cleanup, closeLater, request } from '@taskscope/test-support'
import { afterEach, describe, expect, it } from 'vitest'
import { example, type Started } from './helpers.ts'

afterEach(cleanup)

describe('analytics (Fastify)', () => {
  it('computes once for concurrent requests, caches, and recomputes after a refresh', async () => {
    const { start } = await example('analytics/fastify.mjs')
    const server: Started = closeLater(await start({ port: 0, orders: 10_000 }))
    const daily = `${server.url}/analytics/daily`

    const first = await Promise.all([request(daily), request(daily), request(daily)])
    for (const { status, body } of first) {
      expect(status).toBe(200)
      expect(body).toMatchObject({ orders: 10_000, computation: 1 })
    }
    expect(first[0].body.revenue).toBeGreaterThan(0)
    expect(server.app.threadpool.stats().completed).toBe(1) // one computation, in the pool

    const cached = await request(daily)
    expect(cached.body).toMatchObject({ computation: 1, cached: true, revenue: first[0].body.revenue })

    expect((await request(`${server.url}/analytics/refresh`, { method: 'POST' })).body).toEqual({ state: 'empty' })
    const fresh = await request(daily)
    expect(fresh.body).toMatchObject({ computation: 2, cached: false, revenue: first[0].body.revenue })
    expect(server.app.threadpool.stats().completed).toBe(2)
  })

  it('runs its refresh loop as a background task, and stops it on close, which is a clean shutdown', async () => {
    const { start } = await example('analytics/fastify.mjs')
    const lines: Array<{ level: number; msg: string }> = []
    const logger = { level: 'info', stream: { write: (line: string) => void lines.push(JSON.parse(line)) } }
    const server: Started = await start({ port: 0, orders: 10_000, logger })
    expect(server.app.backgroundTasks.list()).toMatchObject([{ name: 'analytics: refresh loop', status: 'running' }])
    await server.close()
    expect(server.app.backgroundTasks.active).toBe(0)
    // The app stopped its own loop: nothing was cut short, so no warning.
    expect(lines.filter((line) => line.level >= 40)).toEqual([])
    expect(lines.map((line) => line.msg)).toContain('shut down cleanly')
  })
})
