// Image thumbnails: an upload is decoded and resized by jimp on the app's worker pool.

import { cleanup, closeLater } from '@taskscope/test-support'
import { Jimp } from 'jimp'
import { afterEach, beforeAll, describe, expect, it } from 'vitest'
import { example, type Started } from './helpers.ts'

afterEach(cleanup)

let photo: Buffer
beforeAll(async () => {
  photo = await new Jimp({ width: 800, height: 600, color: 0x3366ccff }).getBuffer('image/png')
})

async function startApp(): Promise<Started> {
  const { start } = await example('thumbnails/fastify.mjs')
  return closeLater(await start({ port: 0 }))
}

const upload = (url: string, body: RequestInit['body'], type = 'image/png') =>
  fetch(url, { method: 'POST', headers: { 'content-type': type }, body })

describe('thumbnails (Fastify)', () => {
  it('answers a PNG thumbnail of the requested width, computed on the worker pool', async () => {
    const server = await startApp()
    const response = await upload(`${server.url}/thumbnails?width=128`, photo)
    expect(response.status).toBe(200)
    expect(response.headers.get('content-type')).toBe('image/png')
    expect(response.headers.get('x-thumbnail-size')).toBe('128x96')
    expect(response.headers.get('x-original-size')).toBe('800x600')
    const thumbnail = await Jimp.read(Buffer.from(await response.arrayBuffer()))
    expect([thumbnail.width, thumbnail.height]).toEqual([128, 96])
    expect(server.app.threadpool.stats()).toMatchObject({ completed: 1, failed: 0 })
  })

  it('answers 422 for bytes that are not an image, and 415 for a body that is not an image upload', async () => {
    const server = await startApp()
    const garbage = await upload(`${server.url}/thumbnails`, 'not an image at all')
    expect(garbage.status).toBe(422)
    expect(((await garbage.json()) as { message: string }).message).toMatch(/cannot make a thumbnail/)
    expect((await upload(`${server.url}/thumbnails`, 'hello', 'text/plain')).status).toBe(415)
    expect((await upload(`${server.url}/thumbnails?width=5000`, photo)).status).toBe(400)
  })

  it('serves a sample JPEG to try the route with, drawn once on the worker pool', async () => {
    const server = await startApp()
    const first = await fetch(`${server.url}/thumbnails/sample.jpg`)
    expect(first.status).toBe(200)
    expect(first.headers.get('content-type')).toBe('image/jpeg')
    const sample = await Jimp.read(Buffer.from(await first.arrayBuffer()))
    expect([sample.width, sample.height]).toEqual([1200, 800])
    expect((await fetch(`${server.url}/thumbnails/sample.jpg`)).status).toBe(200)
    expect(server.app.threadpool.stats()).toMatchObject({ completed: 1, failed: 0 }) // kept after the first request
  })
})
