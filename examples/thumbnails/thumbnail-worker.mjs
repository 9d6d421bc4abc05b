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

/**
 * A sample photo to try the thumbnails route with, so nobody needs a photo.jpg of their own: a
 * `width` x `height` JPEG of a colour gradient, drawn and encoded here, off the event loop.
 */
export async function samplePhoto(width, height) {
  const image = new Jimp({ width, height, color: 0x000000ff })
  image.scan((x, y, offset) => {
    image.bitmap.data[offset] = Math.round((255 * x) / width) // red grows to the right
    image.bitmap.data[offset + 1] = Math.round((255 * y) / height) // green grows downwards
    image.bitmap.data[offset + 2] = 160
  })
  return image.getBuffer('image/jpeg')
}
