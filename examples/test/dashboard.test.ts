// Dashboard, in Fastify, Express and Koa: three upstream calls in parallel in the request's task
// group; a client that disconnects aborts all three upstream requests.
import http from 'node:http'
import { cleanup, closeLater, events, request } from '@taskscope/test-support'
import { afterEach, describe, expect, it, vi } from 'vitest'
import { example, type Started } from './helpers.ts'

afterEach(cleanup)

const { startUpstream } = await example('dashboard/upstream.mjs')

const frameworks = [
  { name: 'Fastify', file: 'dashboard/fastify.mjs', stats: (s: Started) => s.app.concurrency.stats() },
  { name: 'Express', file: 'dashboard/express.mjs', stats: (s: Started) => s.c.stats() },
  { name: 'Koa', file: 'dashboard/koa.mjs', stats: (s: Started) => s.c.stats() },
]

describe.each(frameworks)('dashboard ($name)', ({ file, stats }) => {
  async function setup(latency: number) {
    const upstream = closeLater(await startUpstream({ latency }))
    const { start } = await example(file)
    const server: Started = closeLater(await start({ port: 0, upstreamUrl: upstream.url }))
    return { upstream, server }
  }

  it('answers with the user, posts and stats, fetched from the upstream', async () => {
    const { upstream, server } = await setup(0)
    const { status, body } = await request(`${server.url}/dashboard/1`)
    expect(status).toBe(200)
    expect(body.user).toEqual({ id: 1, name: 'Ada Lovelace', plan: 'pro' })
    expect(body.posts).toHaveLength(3)
    expect(body.stats).toMatchObject({ userId: 1, posts: 3 })
    expect(upstream.counts.requests).toBe(3)
  })

  it('answers 404 when the upstream does, naming no internal address', async () => {
    const { upstream, server } = await setup(0)
    const { status, body } = await request(`${server.url}/dashboard/42`)
    expect(status).toBe(404)
    expect(JSON.stringify(body)).toContain('not found')
    expect(JSON.stringify(body)).not.toContain(upstream.url.replace('http://', ''))
  })

  it('runs the three calls at once, and aborts them all when the client disconnects', async () => {
    const { upstream, server } = await setup(60_000) // the upstream never answers by itself
    const inFlight = events(upstream.events, 'request', 3)
    const aborted = events(upstream.events, 'aborted', 3)
    const client = http.get(`${server.url}/dashboard/1`)
    client.on('error', () => {}) // ECONNRESET: we hang up ourselves
    await inFlight // all three upstream requests are in flight at the same time
    expect(upstream.counts).toMatchObject({ requests: 3, completed: 0, aborted: 0 })

    client.destroy() // the client goes away mid-request
    await aborted
    expect(upstream.counts).toMatchObject({ requests: 3, completed: 0, aborted: 3 })
    await vi.waitFor(() => expect(stats(server).requests.active).toBe(0))
  })
})
