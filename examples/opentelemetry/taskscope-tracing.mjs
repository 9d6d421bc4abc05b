/**
 * OpenTelemetry spans from taskscope's diagnostics channels, with nothing but `@opentelemetry/api`:
 * one span per request (`taskscope:task`, kind `request`), one per task, child of its request's
 * span, one per background task and one per pool call. A cancellation (the client went away, a
 * timeout, a sibling failed) ends its span with `taskscope.cancelled: true` and status UNSET: it is
 * not an error, so the APM does not paint every 499 red. A real failure records the exception and
 * sets status ERROR.
 *
 *   import { trace } from '@opentelemetry/api'
 *   const stop = instrumentTaskscope(trace.getTracer('my-app'))
 */
import diagnostics from 'node:diagnostics_channel'
import { context, SpanKind, SpanStatusCode, trace } from '@opentelemetry/api'

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
        span = tracer.startSpan(`${message.method} ${message.url}`, {
          kind: SpanKind.SERVER,
          attributes: { 'http.request.method': message.method, 'url.path': message.url },
        })
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
