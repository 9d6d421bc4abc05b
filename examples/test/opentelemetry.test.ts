// The OpenTelemetry example: spans from the diagnostics channels, exported to the SDK's in-memory
// exporter, for the dashboard example (Fastify) served over a real socket.
import { SpanStatusCode } from '@opentelemetry/api'
import { BasicTracerProvider, InMemorySpanExporter, type ReadableSpan, SimpleSpanProcessor } from '@opentelemetry/sdk-trace-base'
import { cleanup, closeLater, request } from '@taskscope/test-support'
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest'
import { example } from './helpers.ts'

let exporter: InMemorySpanExporter
let stop: () => void
beforeEach(async () => {
  const { instrumentTaskscope } = await example('opentelemetry/taskscope-tracing.mjs')
  exporter = new InMemorySpanExporter()
  const provider = new BasicTracerProvider({ spanProcessors: [new SimpleSpanProcessor(exporter)] })
  stop = instrumentTaskscope(provider.getTracer('test'))
})
afterEach(async () => {
  stop()
  await cleanup()
})

const parentOf = (span: ReadableSpan) => span.parentSpanContext?.spanId

async function dashboard(latency: number) {
  const { startUpstream } = await example('dashboard/upstream.mjs')
  const upstream = closeLater(await startUpstream({ latency }))
  const { start } = await example('dashboard/fastify.mjs')
  return { upstream, ...closeLater(await start({ port: 0, upstreamUrl: upstream.url })) }
}

describe('OpenTelemetry example', () => {
  it('a dashboard request is one span with its three tasks as children, none errored', async () => {
    const { url } = await dashboard(0)
    expect((await request(`${url}/dashboard/1`)).status).toBe(200)
    await vi.waitFor(() => expect(exporter.getFinishedSpans().map((s) => s.name)).toContain('GET /dashboard/1'))
    const spans = exporter.getFinishedSpans()
    const root = spans.find((s) => s.name === 'GET /dashboard/1')!
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
    await vi.waitFor(() => expect(exporter.getFinishedSpans().map((s) => s.name)).toContain('GET /dashboard/1'))
    const spans = exporter.getFinishedSpans()
    const root = spans.find((s) => s.name === 'GET /dashboard/1')!
    const tasks = spans.filter((s) => parentOf(s) === root.spanContext().spanId)
    expect(tasks.map((s) => s.name).sort()).toEqual(['task posts', 'task stats', 'task user'])
    for (const span of [root, ...tasks]) {
      expect(span.attributes['taskscope.cancelled']).toBe(true)
      expect(span.status.code).toBe(SpanStatusCode.UNSET)
      expect(span.events.filter((e) => e.name === 'exception')).toEqual([])
    }
    expect(root.attributes['taskscope.cancel_reason']).toBe('ClientDisconnectedError')
  })
})
