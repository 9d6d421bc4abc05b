/**
 * Image thumbnails (Fastify): POST an image, get a PNG thumbnail back. Decoding and resizing take
 * tens to hundreds of milliseconds of pure CPU, which would freeze every other request if it ran
 * on the event loop; here it runs on the app's worker pool (`app.threadpool`), through a worker
 * module (`workerTask`) that imports jimp. The event loop stays free, so other requests stay fast.
 * The task is tied to the request: if the client goes away, its thread is stopped and replaced.
 * (`runInThreadpool(thumbnail, bytes, 128)` does the same on the process-wide pool, without a signal.)
 *
 * GET /thumbnails/sample.jpg answers a sample photo (drawn once, on the pool, then kept), so the
 * route can be tried without a photo of one's own.
 *
 *   node examples/thumbnails/fastify.mjs
 *   curl -s http://localhost:3000/thumbnails/sample.jpg -o photo.jpg
 *   curl -s --data-binary @photo.jpg -H 'content-type: image/jpeg' 'http://localhost:3000/thumbnails?width=128' -o thumb.png
 */
import { pathToFileURL } from 'node:url'
import { AsyncLazy, workerTask } from '@taskscope/core'
import { concurrencyPlugin } from '@taskscope/fastify'
import closeWithGrace from 'close-with-grace'
import Fastify from 'fastify'

/** A handle on `thumbnail` in thumbnail-worker.mjs; the type comes along for TypeScript users. */
const thumbnail = workerTask(new URL('./thumbnail-worker.mjs', import.meta.url), 'thumbnail')
const samplePhoto = workerTask(new URL('./thumbnail-worker.mjs', import.meta.url), 'samplePhoto')

const imageTypes = ['image/png', 'image/jpeg', 'image/gif', 'image/bmp', 'image/tiff', 'application/octet-stream']

/** The routes, as a Fastify plugin (the demo server mounts it next to the other scenarios). */
export async function thumbnailRoutes(app) {
  app.addContentTypeParser(imageTypes, { parseAs: 'buffer', bodyLimit: 20 * 1024 * 1024 }, (request, body, done) => done(null, body))

  const schema = { querystring: { type: 'object', properties: { width: { type: 'integer', minimum: 16, maximum: 1024, default: 128 } } } }
  app.post('/thumbnails', { schema }, async (request, reply) => {
    if (!Buffer.isBuffer(request.body)) return reply.code(415).send({ error: `send the image itself, as ${imageTypes.join(', ')}` })
    // Copy the upload into an ArrayBuffer of its own, then move it to the worker without a
    // second copy (`transfer`). Never transfer `request.body.buffer` itself: small Buffers share
    // Node's internal pool, and transferring it would empty other Buffers.
    const bytes = new Uint8Array(request.body)
    const result = await app.threadpool
      .run(thumbnail, [bytes, request.query.width], { signal: request.taskGroup.signal, transfer: [bytes.buffer], timeout: 10_000 })
      .catch((error) => {
        // Cancellations (499), timeouts (504) and a full queue (503) carry their status; anything
        // else is jimp failing to decode what was sent.
        throw error.statusCode ? error : Object.assign(new Error(`cannot make a thumbnail: ${error.message}`), { statusCode: 422 })
      })
    return reply
      .type('image/png')
      .header('x-thumbnail-size', `${result.width}x${result.height}`)
      .header('x-original-size', `${result.original.width}x${result.original.height}`)
      .send(Buffer.from(result.png.buffer, result.png.byteOffset, result.png.byteLength))
  })

  // A sample to try the route with: drawn on the pool on first request, then served from memory.
  const sample = new AsyncLazy(async (signal) => {
    const jpeg = await app.threadpool.run(samplePhoto, [1200, 800], { signal })
    return Buffer.from(jpeg.buffer, jpeg.byteOffset, jpeg.byteLength)
  })
  app.get('/thumbnails/sample.jpg', async (request, reply) => {
    return reply.type('image/jpeg').send(await sample.get({ signal: request.taskGroup.signal }))
  })
}

/** The two curl lines that try the route from a fresh clone: fetch the sample photo, then post it. */
export function thumbnailCurlLines(url) {
  return [
    `curl -s ${url}/thumbnails/sample.jpg -o photo.jpg`,
    `curl -s --data-binary @photo.jpg -H 'content-type: image/jpeg' '${url}/thumbnails?width=128' -o thumb.png`,
  ]
}

export async function build({ logger = false, threadpool } = {}) {
  const app = Fastify({ logger })
  await app.register(concurrencyPlugin, { threadpool }) // the pool starts on first use, closes with the app
  await app.register(thumbnailRoutes)
  return app
}

/** Builds and listens; resolves with `{ app, url, close }`. */
export async function start({ port = 3000, host = '127.0.0.1', ...options } = {}) {
  const app = await build(options)
  await app.listen({ port, host })
  return { app, url: `http://${host}:${app.server.address().port}`, close: () => app.close() }
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  const { app, url } = await start({ port: Number(process.env.PORT ?? 3000), logger: { level: 'warn' } })
  closeWithGrace(() => app.close())
  const [getSample, postPhoto] = thumbnailCurlLines(url)
  console.log(`Thumbnails (Fastify) listening on ${url}
  ${getSample}   # a sample photo (or use a photo of your own)
  ${postPhoto}
  curl -s -D - -o /dev/null --data-binary 'not an image' -H 'content-type: image/png' ${url}/thumbnails   # 422`)
}
