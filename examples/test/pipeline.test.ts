// Parallel pipeline: downloads in a limited TaskGroup, analysis in the pool once an AsyncEvent
// says the stop words are there, merge; the first failure cancels the rest.

import { cleanup, closeLater, post } from '@taskscope/test-support'
import { afterEach, describe, expect, it } from 'vitest'
import { example, type Started } from './helpers.ts'

afterEach(cleanup)

describe('pipeline (Fastify)', () => {
  it('downloads, analyses in the pool and merges every document', async () => {
    const { start } = await example('pipeline/fastify.mjs')
    const server: Started = closeLater(await start({ port: 0, latency: 1 }))
    const { status, body } = await post(`${server.url}/pipeline`, { documents: 6, concurrency: 2 })
    expect(status).toBe(200)
    expect(body.perDocument.map((d: { id: number }) => d.id)).toEqual([1, 2, 3, 4, 5, 6])
    expect(body.words).toBe(body.perDocument.reduce((sum: number, d: { words: number }) => sum + d.words, 0))
    expect(Object.keys(body.topWords)).toHaveLength(5)
    expect(Object.keys(body.topWords)).not.toContain('the') // a stop word
    expect(server.app.threadpool.stats()).toMatchObject({ completed: 6, failed: 0 })

    const again = await post(`${server.url}/pipeline`, { documents: 6, concurrency: 3 })
    expect(again.body.topWords).toEqual(body.topWords) // deterministic documents, whatever the concurrency
  })

  it('answers the first failure, having cancelled the other documents', async () => {
    const { start } = await example('pipeline/fastify.mjs')
    const server: Started = closeLater(await start({ port: 0, latency: 60_000 })) // downloads never finish by themselves
    // Running at once: the stop-word loader, document 1 (fails at once) and document 2, whose
    // download must be cancelled for the group, and so the response, to end.
    const { status, body } = await post(`${server.url}/pipeline`, { documents: 6, concurrency: 3, failAt: 1 })
    expect(status).toBe(502)
    expect(body.message).toBe('document 1 could not be downloaded')
    expect(server.app.concurrency.stats().pool).toMatchObject({ threads: 0, completed: 0 }) // nothing reached the analysis stage
  })
})
