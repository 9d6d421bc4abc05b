// The OpenTelemetry example: spans from the diagnostics channels, exported to the SDK's in-memory
// exporter, for the console variant's traced Fastify dashboard served over a real socket; and the
// console variant run as written, printing its spans.
import { SpanStatusCode } from '@opentelemetry/api'
import { InMemorySpanExporter, type ReadableSpan } from '@opentelemetry/sdk-trace-base'
import { cleanup, closeLater, request } from '@taskscope/test-support'
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest'
import { example, runExample } from './helpers.ts'

let exporter: InMemorySpanExporter
beforeEach(() => {
  exporter = new InMemorySpanExporter()
})
afterEach(async () => {
  await cleanup()
})

const parentOf = (span: ReadableSpan) => span.parentSpanContext?.spanId

/** The console variant's app, its spans sent to the in-memory exporter. */
async function dashboard(latency: number) {
  const { start } = await example('opentelemetry/console.mjs')
  return closeLater(await start({ port: 0, exporter, latency }))
}

describe('OpenTelemetry example', () => {
  it('a dashboard request is one span named {method} {route}, the URL in attributes, with its three tasks as children, none errored', async () => {
    const { url } = await dashboard(0)
    expect((await request(`${url}/dashboard/1?fresh=1`)).status).toBe(200)
    await vi.waitFor(() => expect(exporter.getFinishedSpans().map((s) => s.name)).toContain('GET /dashboard/:userId'))
    const spans = exporter.getFinishedSpans()
    const root = spans.find((s) => s.name === 'GET /dashboard/:userId')!
    expect(root.attributes).toEqual({
      'http.request.method': 'GET',
      'http.route': '/dashboard/:userId',
      'url.path': '/dashboard/1',
      'url.query': 'fresh=1',
    })
    const children = spans.filter((s) => parentOf(s) === root.spanContext().spanId)
    expect(children.map((s) => s.name).sort()).toEqual(['task posts', 'task stats', 'task user'])
    expect(children.every((s) => s.spanContext().traceId === root.spanContext().traceId)).toBe(true)
    expect(spans.map((s) => s.status.code)).not.toContain(SpanStatusCode.ERROR)
    expect(spans.some((s) => s.attributes['taskscope.cancelled'])).toBe(false)
  })

  it('a client that disconnects ends the request and its tasks as cancelled, not errored', async () => {
    const { url, upstream } = await dashboard(60_000)
    const controller = new AbortController()
    const pending = fetch(`${url}/dashboard/1`, { signal: controller.signal }).catch(() => undefined)
    // The three tasks are running once their three upstream calls have arrived.
    await vi.waitFor(() => expect(upstream.counts.requests).toBe(3), { interval: 10 })
    expect(exporter.getFinishedSpans()).toEqual([])
    controller.abort()
    await pending
    await vi.waitFor(() => expect(upstream.counts.aborted).toBe(3), { interval: 10 }) // the tasks' fetches were aborted
    await vi.waitFor(() => expect(exporter.getFinishedSpans().map((s) => s.name)).toContain('GET /dashboard/:userId'))
    const spans = exporter.getFinishedSpans()
    const root = spans.find((s) => s.name === 'GET /dashboard/:userId')!
    const tasks = spans.filter((s) => parentOf(s) === root.spanContext().spanId)
    expect(tasks.map((s) => s.name).sort()).toEqual(['task posts', 'task stats', 'task user'])
    for (const span of [root, ...tasks]) {
      expect(span.attributes['taskscope.cancelled']).toBe(true)
      expect(span.status.code).toBe(SpanStatusCode.UNSET)
      expect(span.events.filter((e) => e.name === 'exception')).toEqual([])
    }
    expect(root.attributes['taskscope.cancel_reason']).toBe('ClientDisconnectedError')
  })
  it('names a request span {method} alone where no route is known', async () => {
    const { instrumentTaskscope } = await example('opentelemetry/taskscope-tracing.mjs')
    const { BasicTracerProvider, SimpleSpanProcessor } = await import('@opentelemetry/sdk-trace-base')
    const provider = new BasicTracerProvider({ spanProcessors: [new SimpleSpanProcessor(exporter)] })
    const stop = instrumentTaskscope(provider.getTracer('test'))
    try {
      const { startUpstream } = await example('dashboard/upstream.mjs')
      const upstream = closeLater(await startUpstream({ latency: 0 }))
      const { start } = await example('dashboard/fastify.mjs')
      const { url } = closeLater(await start({ port: 0, upstreamUrl: upstream.url }))
      expect((await request(`${url}/dashboard/2`)).status).toBe(200)
      await vi.waitFor(() => expect(exporter.getFinishedSpans().map((s) => s.name)).toContain('GET'))
      const root = exporter.getFinishedSpans().find((s) => s.name === 'GET')!
      expect(root.attributes).toEqual({ 'http.request.method': 'GET', 'url.path': '/dashboard/2' })
    } finally {
      stop()
    }
  })

  it('the console variant runs as written: it prints the spans of a request', { timeout: 30_000 }, async () => {
    const server = closeLater(runExample('opentelemetry/console.mjs'))
    const [, url] = await server.waitFor(/listening on (http:\/\/\S+)/)
    await server.waitFor(/curl /)
    expect((await request(`${url}/dashboard/1`)).status).toBe(200)
    await server.waitFor(/name: 'GET \/dashboard\/:userId'/)
    await server.waitFor(/'url\.path': '\/dashboard\/1'/)
    for (const task of ['user', 'posts', 'stats']) await server.waitFor(new RegExp(`name: 'task ${task}'`))
    server.child.kill('SIGTERM')
    expect(await server.exited).toBe(0)
    expect(server.stderr).toBe('')
  })
})
