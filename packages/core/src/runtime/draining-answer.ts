// The 503 of a server that is shutting down, in one place: what an adapter sends instead of
// running the app (`drainingAnswer`), and what a draining server answers on a connection that is
// still open (server-drain/). Also the shape of the plain-text answers taskscope writes itself.
import type { HttpRequest } from './response-lifecycle.js'
import type { Runtime } from './runtime.js'

/** A short plain-text answer for an adapter to send: status, headers, body. */
export interface HttpAnswer {
  status: number
  headers: Record<string, string>
  body: string
}

/** The Content-Type of every answer taskscope writes itself. */
export const plainText = 'text/plain; charset=utf-8'

/** The answer to a request that arrives while the app shuts down (Fastify's return503OnClosing). */
export const shuttingDownAnswer = {
  status: 503,
  body: 'Service Unavailable: the server is shutting down',
  /** Headers for the response; `Connection: close` is added for HTTP/1 only (HTTP/2 forbids it). */
  headers(httpVersionMajor: number): Record<string, string> {
    return httpVersionMajor === 1 ? { 'Retry-After': '1', Connection: 'close' } : { 'Retry-After': '1' }
  },
} as const

/** The whole 503 for a request of this HTTP major version: status, headers (Content-Type included), body. */
export function shuttingDown(httpVersionMajor: number): HttpAnswer {
  const { status, body } = shuttingDownAnswer
  return { status, headers: { ...shuttingDownAnswer.headers(httpVersionMajor), 'Content-Type': plainText }, body }
}

/**
 * The 503 for a request that arrives while `runtime` shuts down (`Retry-After: 1`, and
 * `Connection: close` over HTTP/1), or undefined when it is not shutting down: the adapter sends
 * it instead of running the app.
 *
 * @example
 * ```ts
 * const answer = drainingAnswer(runtime, req)
 * if (answer !== undefined) return void res.writeHead(answer.status, answer.headers).end(answer.body)
 * ```
 */
export function drainingAnswer(runtime: Runtime, req: HttpRequest): HttpAnswer | undefined {
  return runtime.draining ? shuttingDown(req.httpVersionMajor) : undefined
}
