/**
 * OpenTelemetry spans from taskscope's diagnostics channels, with nothing but `@opentelemetry/api`:
 * one span per request (`taskscope:task`, kind `request`), one per task, child of its request's
 * span, one per background task and one per pool call. A request span is named as the OpenTelemetry
 * HTTP conventions ask, `{method} {route}` (`GET /dashboard/:userId`, few distinct names), with the
 * URL's path and query as attributes; `{method}` alone where the route is not known (see
 * `withRoute`). A cancellation (the client went away, a
 * timeout, a sibling failed) ends its span with `taskscope.cancelled: true` and status UNSET: it is
 * not an error, so the APM does not paint every 499 red. A real failure records the exception and
 * sets status ERROR.
 *
 *   import { trace } from '@opentelemetry/api'
 *   const stop = instrumentTaskscope(trace.getTracer('my-app'))
 */
import { AsyncLocalStorage } from 'node:async_hooks'
import diagnostics from 'node:diagnostics_channel'
import { context, SpanKind, SpanStatusCode, trace } from '@opentelemetry/api'

const routes = new AsyncLocalStorage()

/**
 * Runs `fn` with `route` (the route's pattern, `/dashboard/:userId`) as the route of the request
 * spans started inside it. In Fastify, a root hook added before the routes does it for every
 * request:
 *
 *   app.addHook('onRequest', (request, reply, done) => withRoute(request.routeOptions.url, done))
 */
export function withRoute(route, fn) {
  return routes.run(route, fn)
}

/** The span name and attributes of a request, per the OpenTelemetry HTTP semantic conventions. */
function requestSpan({ method, url = '' }) {
  const route = routes.getStore()
  const query = url.indexOf('?')
  const attributes = { 'http.request.method': method, 'url.path': query === -1 ? url : url.slice(0, query) }
  if (query !== -1) attributes['url.query'] = url.slice(query + 1)
  if (route !== undefined) attributes['http.route'] = route
  return { name: route === undefined ? method : `${method} ${route}`, attributes }
}

/** Subscribes; returns a function that unsubscribes. */
export function instrumentTaskscope(tracer) {
  const spans = new WeakMap() // channel context → span
  const requestSpans = new WeakMap() // a request's TaskGroup → its span, the parent of its tasks

  const childOf = (parent) => (parent === undefined ? context.active() : trace.setSpan(context.active(), parent))
  const end = (message) => {
    const span = spans.get(message)
    if (span === undefined) return
    if (message.cancelled) {
      span.setAttribute('taskscope.cancelled', true)
      if (message.reason?.name) span.setAttribute('taskscope.cancel_reason', message.reason.name)
    }
    span.end()
  }
  const error = (message) => {
    const span = spans.get(message)
    if (span === undefined) return
    span.recordException(message.error)
    span.setStatus({ code: SpanStatusCode.ERROR, message: message.error?.message })
  }

  const tasks = {
    start(message) {
      let span
      if (message.kind === 'request') {
        const { name, attributes } = requestSpan(message)
        span = tracer.startSpan(name, { kind: SpanKind.SERVER, attributes })
        requestSpans.set(message.group, span)
      } else if (message.kind === 'task') {
        span = tracer.startSpan(
          `task ${message.task.name}`,
          { attributes: { 'taskscope.task': message.task.name } },
          childOf(requestSpans.get(message.group)),
        )
      } else {
        span = tracer.startSpan(`background ${message.task.name}`, { attributes: { 'taskscope.task': message.task.name } })
      }
      spans.set(message, span)
    },
    error,
    asyncEnd: end,
  }
  const pool = {
    start(message) {
      spans.set(message, tracer.startSpan(`pool ${message.name}`, { attributes: { 'taskscope.task': message.name } }))
    },
    error,
    asyncEnd: end,
  }
  diagnostics.tracingChannel('taskscope:task').subscribe(tasks)
  diagnostics.tracingChannel('taskscope:pool.run').subscribe(pool)
  return () => {
    diagnostics.tracingChannel('taskscope:task').unsubscribe(tasks)
    diagnostics.tracingChannel('taskscope:pool.run').unsubscribe(pool)
  }
}
