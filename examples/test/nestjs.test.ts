// NestJS on Express and on Fastify: the dashboard's three calls in the request's task group (all
// aborted when the client disconnects), a background report drained by app.close(), the stats.
import http from 'node:http'
import { TaskscopeRuntime } from '@taskscope/nestjs'
import { cleanup, closeLater, events, request } from '@taskscope/test-support'
import { afterEach, describe, expect, it } from 'vitest'
import { start } from '../nestjs/app.ts'
import { example } from './helpers.ts'

afterEach(cleanup)

const { startUpstream } = await example('dashboard/upstream.mjs')

describe.each(['express', 'fastify'] as const)('NestJS on %s', (platform) => {
  async function setup(latency: number) {
    const upstream = closeLater(await startUpstream({ latency }))
    const server = closeLater(await start({ platform, port: 0, upstreamUrl: upstream.url, logger: false }))
    return { upstream, server }
  }

  it('answers with the user, posts and stats; a 404 upstream stays a 404', async () => {
    const { upstream, server } = await setup(0)
    const { status, body } = await request(`${server.url}/dashboard/1`)
    expect(status).toBe(200)
    expect(body.user).toEqual({ id: 1, name: 'Ada Lovelace', plan: 'pro' })
    expect(body.posts).toHaveLength(3)
    expect(body.stats).toMatchObject({ userId: 1, posts: 3 })
    expect(upstream.counts.requests).toBe(3)
    const missing = await request(`${server.url}/dashboard/42`)
    expect(missing.status).toBe(404)
    expect(missing.body).toMatchObject({ statusCode: 404 })
  })

  it('aborts the three upstream calls when the client disconnects', async () => {
    const { upstream, server } = await setup(60_000) // the upstream never answers by itself
    const inFlight = events(upstream.events, 'request', 3)
    const aborted = events(upstream.events, 'aborted', 3)
    const client = http.get(`${server.url}/dashboard/1`)
    client.on('error', () => {}) // ECONNRESET: we hang up ourselves
    await inFlight
    client.destroy()
    await aborted
    expect(upstream.counts).toMatchObject({ requests: 3, completed: 0, aborted: 3 })
    expect((await request(`${server.url}/debug/stats`)).body.requests).toMatchObject({ cancelledByDisconnect: 1 })
  })

  it('makes a report in the background, and app.close() waits for it', async () => {
    const { server } = await setup(0)
    const { status } = await request(`${server.url}/reports`, { method: 'POST' })
    expect(status).toBe(202)
    const runtime = server.app.get(TaskscopeRuntime)
    expect(runtime.stats().background).toMatchObject({ active: 1 })
    await server.close()
    expect(runtime.stats().background).toMatchObject({ active: 0, fulfilled: 1 })
  })
})
