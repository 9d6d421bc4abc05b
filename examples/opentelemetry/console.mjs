/**
 * OpenTelemetry, runnable: the Fastify dashboard with taskscope's spans printed to the console, as
 * you would start before sending them to a collector. A `BasicTracerProvider` with a
 * `ConsoleSpanExporter`; `instrumentTaskscope` turns the diagnostics channels into spans, and a root
 * `onRequest` hook gives request spans their route (`GET /dashboard/:userId`).
 *
 *   node examples/opentelemetry/console.mjs
 *   curl http://localhost:3000/dashboard/1      # four spans: the request and its three tasks
 *
 * To export to a collector instead, swap the processor's exporter (for example `OTLPTraceExporter`
 * from `@opentelemetry/exporter-trace-otlp-http`, behind a `BatchSpanProcessor`).
 */
import { pathToFileURL } from 'node:url'
import { BasicTracerProvider, ConsoleSpanExporter, SimpleSpanProcessor } from '@opentelemetry/sdk-trace-base'
import { concurrencyPlugin } from '@taskscope/fastify'
import closeWithGrace from 'close-with-grace'
import Fastify from 'fastify'
import { dashboardRoutes } from '../dashboard/fastify.mjs'
import { startUpstream } from '../dashboard/upstream.mjs'
import { instrumentTaskscope, withRoute } from './taskscope-tracing.mjs'

/**
 * Starts the upstream (answering after `latency` ms), the traced app and the exporter (the console's
 * unless given); resolves with `{ app, url, upstream, close }`.
 */
export async function start({ port = 3000, host = '127.0.0.1', exporter = new ConsoleSpanExporter(), latency = 50 } = {}) {
  const provider = new BasicTracerProvider({ spanProcessors: [new SimpleSpanProcessor(exporter)] })
  const stopTracing = instrumentTaskscope(provider.getTracer('taskscope-example'))
  const upstream = await startUpstream({ latency })
  const app = Fastify({ logger: { level: 'warn' } })
  app.addHook('onRequest', (request, reply, done) => withRoute(request.routeOptions.url, done)) // before the routes
  await app.register(concurrencyPlugin)
  await app.register(dashboardRoutes, { upstreamUrl: upstream.url })
  app.addHook('onClose', async () => {
    await upstream.close()
    stopTracing()
    await provider.shutdown()
  })
  await app.listen({ port, host })
  return { app, url: `http://${host}:${app.server.address().port}`, upstream, close: () => app.close() }
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  const { app, url } = await start({ port: Number(process.env.PORT ?? 3000) })
  closeWithGrace(() => app.close())
  console.log(`OpenTelemetry (console exporter) listening on ${url}
  curl ${url}/dashboard/1     # the request's span and its three tasks' spans are printed here`)
}
