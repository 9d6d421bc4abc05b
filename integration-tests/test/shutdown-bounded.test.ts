// Bounded shutdown: no client can hold the adapter's close past `shutdownTimeout` plus the
// documented grace (up to 3 × min(1 s, shutdownTimeout)). Two hostile clients: a slowloris that
// trickles header bytes and never ends its headers, and a slow body that sends its headers, then
// a few bytes of a declared 1,000-byte body, then nothing. At the deadline the runtime closes
// every connection still open, on all three adapters. Over HTTP/2 (Fastify, Koa) the hostile client
// is a session with a stream whose body never ends: the runtime destroys the session at the deadline.
import { once } from 'node:events'
import type { ServerHttp2Session } from 'node:http2'
import { cleanup, connectionCount, h2connect, rawConnect, track } from '@taskscope/test-support'
import { afterEach, describe, expect, it } from 'vitest'
import { frameworks } from './helpers/servers.ts'

afterEach(cleanup)

const shutdownTimeout = 100
const grace = Math.min(1000, shutdownTimeout)

describe.each(frameworks)('$name: bounded shutdown', (fw) => {
  it('a slowloris and a slow-body client cannot hold close() past shutdownTimeout + grace', async () => {
    let handlerRan = false
    const app = await fw.start({
      shutdownTimeout,
      routes: [{ method: 'POST', path: '/upload', handler: () => void (handlerRan = true) }],
    })

    let accepted = once(app.server, 'connection')
    const slowloris = await rawConnect(app.port)
    await accepted
    slowloris.write('GET /__ping HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Slow: ')
    const trickle = setInterval(() => slowloris.write('a'), 10) // a header that never ends
    track('client', () => clearInterval(trickle))
    void slowloris.closed.then(() => clearInterval(trickle))

    accepted = once(app.server, 'connection')
    const slowBody = await rawConnect(app.port)
    await accepted
    const headersRead = once(app.server, 'request')
    slowBody.write('POST /upload HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\nContent-Length: 1000\r\n\r\n{"a":')
    await headersRead // the request is in flight: the app waits for the rest of its body
    expect(await connectionCount(app.server)).toBe(2)

    await app.close()

    // The runtime's own deadline ended it: both connections were closed by the server.
    await Promise.all([slowloris.closed, slowBody.closed])
    expect(app.server.listening).toBe(false)
    expect(handlerRan).toBe(false)
    expectBoundedSummary(app.logs.entries)
  })

  it.skipIf(fw.http2 !== true)('an HTTP/2 stream whose body never ends cannot hold close() past shutdownTimeout + grace', async () => {
    let handlerRan = false
    const app = await fw.start({
      http2: true,
      shutdownTimeout,
      routes: [{ method: 'POST', path: '/upload', handler: () => void (handlerRan = true) }],
    })

    const accepted = once(app.server, 'session') as Promise<[ServerHttp2Session]>
    const client = await h2connect(app.url)
    const [session] = await accepted
    const headersRead = once(app.server, 'request')
    const upload = client.request({ ':method': 'POST', ':path': '/upload', 'content-type': 'application/json', 'content-length': 1000 })
    upload.on('error', () => {})
    upload.write('{"a":') // and never the rest
    await headersRead // the request is in flight: the app waits for the rest of its body

    await app.close()

    // The runtime's own deadline ended it: the server destroyed the session, and the client saw it close.
    if (!client.closed) await once(client, 'close')
    expect(session.destroyed).toBe(true)
    expect(app.server.listening).toBe(false)
    expect(handlerRan).toBe(false)
    expectBoundedSummary(app.logs.entries)
  })
})

/** The shutdown summary was logged, and the shutdown took the deadline but no more than its grace. */
function expectBoundedSummary(entries: { text: string }[]): void {
  const summary = entries.find((entry) => /shut down/.test(entry.text))
  expect(summary).toBeDefined()
  const durationMs = Number(/"durationMs":(\d+)/.exec(summary!.text)?.[1])
  expect(durationMs).toBeGreaterThanOrEqual(shutdownTimeout - 1)
  expect(durationMs).toBeLessThanOrEqual(shutdownTimeout + 3 * grace)
}
