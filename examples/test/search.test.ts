// Search with failover: firstSuccessful over primary, backup and fallback, with a timeout mapped
// to 504; runUntilFirstComplete for the plain race.

import { cleanup, closeLater, request } from '@taskscope/test-support'
import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import { example, type Started } from './helpers.ts'

afterEach(cleanup)

let url: string
beforeEach(async () => {
  const { start } = await example('search/fastify.mjs')
  const server: Started = closeLater(await start({ port: 0, timeout: 200 }))
  url = server.url
})

describe('search (Fastify)', () => {
  it.each([
    ['', 'primary'],
    ['&fail=primary', 'backup'],
    ['&slow=primary', 'backup'],
    ['&fail=primary,backup', 'fallback'],
  ])('firstSuccessful: with %j the %s source answers', async (query, winner) => {
    const { status, body } = await request(`${url}/search?q=node${query}`)
    expect(status).toBe(200)
    expect(body).toMatchObject({ source: winner, query: 'node' })
    expect(body.hits).toHaveLength(2)
  })

  it('answers 502 with every error when all sources fail', async () => {
    const { status, body } = await request(`${url}/search?q=node&fail=primary,backup,fallback`)
    expect(status).toBe(502)
    expect(body.errors).toEqual(['primary is unavailable', 'backup is unavailable', 'fallback is unavailable'])
  })

  it('answers 504 when no source answers before the timeout', async () => {
    const { status, body } = await request(`${url}/search?q=node&slow=primary,backup,fallback`)
    expect(status).toBe(504)
    expect(body.error).toMatch(/200 ms/)
  })

  it('runUntilFirstComplete: the first source to settle decides, even with a failure', async () => {
    expect((await request(`${url}/search/race?q=node`)).body.source).toBe('primary')
    const failed = await request(`${url}/search/race?q=node&fail=primary`)
    expect(failed.status).toBe(502)
    expect(failed.body.error).toMatch(/primary is unavailable/)
  })

  it('answers 400 without a query', async () => {
    expect((await request(`${url}/search`)).status).toBe(400)
  })
})
