// A node:http2 (h2c) client.
import http2 from 'node:http2'
import { track } from './cleanup.ts'
import type { RawRequest } from './sockets.ts'

/** An HTTP/2 cleartext session to `url`, destroyed by `cleanup()`. */
export async function h2connect(url: string): Promise<http2.ClientHttp2Session> {
  const session = http2.connect(url)
  track('client', () => session.destroy())
  session.on('error', () => {})
  await new Promise<void>((resolve, reject) => {
    session.once('connect', () => resolve())
    session.once('error', reject)
  })
  return session
}

export interface H2Call {
  stream: http2.ClientHttp2Stream
  /** The response; rejects if the stream is reset (never an unhandled rejection). */
  response: Promise<{ status: number; headers: http2.IncomingHttpHeaders; body: string }>
}

/** One request on `session`. An object `body` is sent as JSON. */
export function h2request(session: http2.ClientHttp2Session, { method = 'GET', path, body }: RawRequest): H2Call {
  const headers: http2.OutgoingHttpHeaders = { ':method': method, ':path': path }
  let payload: string | undefined
  if (body !== undefined) {
    payload = typeof body === 'string' ? body : JSON.stringify(body)
    headers['content-type'] = 'application/json'
    headers['content-length'] = Buffer.byteLength(payload)
  }
  const stream = session.request(headers, { endStream: payload === undefined })
  const response = new Promise<{ status: number; headers: http2.IncomingHttpHeaders; body: string }>((resolve, reject) => {
    let status = 0
    let responseHeaders: http2.IncomingHttpHeaders = {}
    let text = ''
    stream.once('response', (h) => {
      responseHeaders = h
      status = Number(h[':status'])
    })
    stream.setEncoding('utf8')
    stream.on('data', (chunk: string) => {
      text += chunk
    })
    stream.once('end', () => resolve({ status, headers: responseHeaders, body: text }))
    stream.once('error', reject)
    stream.once('close', () => {
      if (stream.rstCode !== http2.constants.NGHTTP2_NO_ERROR) reject(new Error(`stream reset ${stream.rstCode}`))
    })
  })
  response.catch(() => {})
  if (payload !== undefined) stream.end(payload)
  return { stream, response }
}
