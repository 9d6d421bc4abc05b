/**
 * Runs on a worker thread of the pool (see fastify.mjs): `workerTask(url, 'thumbnail')` names this
 * export, and each pool thread imports this module once. Unlike a function shipped by source, a
 * worker module may import whatever it needs: here jimp, a pure-JavaScript image library.
 */
import { Jimp } from 'jimp'

/**
 * Decodes an image (PNG, JPEG, GIF, BMP, TIFF), scales it to `width` pixels wide (never up) and
 * encodes it as PNG. CPU-bound for tens to hundreds of milliseconds: exactly what must not run on
 * the event loop of a web server.
 */
export async function thumbnail(bytes, width) {
  const image = await Jimp.read(Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength))
  const original = { width: image.width, height: image.height }
  if (image.width > width) image.resize({ w: width })
  const png = await image.getBuffer('image/png')
  return { png, width: image.width, height: image.height, original }
}
