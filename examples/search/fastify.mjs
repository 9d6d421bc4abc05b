/**
 * Search with failover (Fastify). Three sources answer the same query: a fast primary, a slower
 * backup and a slowest fallback (simulated here; in real life, three services or replicas).
 *
 * - GET /search uses `firstSuccessful`: all sources start at once and the first *answer* wins, so
 *   a failing primary costs nothing but the backup's latency. When every source fails the client
 *   gets 502 with their errors; past the deadline, 504. Losers are aborted as soon as a winner is
 *   known, and everything is aborted if the client goes away (the race uses the request's signal).
 * - GET /search/race uses `runUntilFirstComplete`, the plain race: the first source to *settle*
 *   decides, even when it settled with an error.
 *
 * Make sources misbehave from the query string: `fail=primary,backup` makes them fail,
 * `slow=primary` makes them hang until they are cancelled.
 *
 *   node examples/search/fastify.mjs
 *   curl 'http://localhost:3000/search?q=structured+concurrency&fail=primary'
 */
import { setTimeout as sleep } from 'node:timers/promises'
import { pathToFileURL } from 'node:url'
import { firstSuccessful, runUntilFirstComplete, TimeoutError } from '@taskscope/core'
import { concurrencyPlugin } from '@taskscope/fastify'
import closeWithGrace from 'close-with-grace'
import Fastify from 'fastify'

/** A simulated search backend that answers after `latency` ms and honours its AbortSignal. */
function source(name, latency) {
  return async function search({ q, fail, slow }, signal) {
    await sleep(slow.includes(name) ? 60_000 : latency, undefined, { signal }) // the timer is cleared on abort
    if (fail.includes(name)) throw new Error(`${name} is unavailable`)
    return { source: name, query: q, hits: [`${q} — result from ${name}`, `more about ${q} (${name})`] }
  }
}

const primary = source('primary', 50)
const backup = source('backup', 100)
const fallback = source('fallback', 150)

const querystring = {
  type: 'object',
  required: ['q'],
  properties: {
    q: { type: 'string', minLength: 1 },
    fail: { type: 'string', default: '' },
    slow: { type: 'string', default: '' },
  },
}

/** The routes, as a Fastify plugin. `timeout`: ms before /search gives up with 504. */
export async function searchRoutes(app, { timeout = 1_000 } = {}) {
  const params = (query) => ({ q: query.q, fail: query.fail.split(','), slow: query.slow.split(',') })

  app.get('/search', { schema: { querystring } }, async (request, reply) => {
    const query = params(request.query)
    try {
      // An entry is `(signal) => ...` or `[fn, arg]`, called as fn(arg, signal).
      return await firstSuccessful(
        [
          [primary, query],
          [backup, query],
          [fallback, query],
        ],
        { timeout, signal: request.taskGroup.signal },
      )
    } catch (error) {
      if (error instanceof TimeoutError) return reply.code(504).send({ error: `no source answered within ${timeout} ms` })
      if (error instanceof AggregateError)
        return reply.code(502).send({ error: 'every source failed', errors: error.errors.map((e) => e.message) })
      throw error // a cancellation: the client went away
    }
  })

  app.get('/search/race', { schema: { querystring } }, async (request, reply) => {
    const query = params(request.query)
    try {
      return await runUntilFirstComplete([primary, query], [backup, query], [fallback, query], { signal: request.taskGroup.signal })
    } catch (error) {
      if (request.taskGroup.signal.aborted) throw error
      return reply.code(502).send({ error: `the first source to settle failed: ${error.message}` })
    }
  })
}

export async function build({ logger = false, timeout } = {}) {
  const app = Fastify({ logger })
  await app.register(concurrencyPlugin)
  await app.register(searchRoutes, { timeout })
  return app
}

/** Builds and listens; resolves with `{ app, url, close }`. */
export async function start({ port = 3000, host = '127.0.0.1', ...options } = {}) {
  const app = await build(options)
  await app.listen({ port, host })
  return { app, url: `http://${host}:${app.server.address().port}`, close: () => app.close() }
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  const { app, url } = await start({ port: Number(process.env.PORT ?? 3000), logger: { level: 'warn' } })
  closeWithGrace(() => app.close())
  console.log(`Search (Fastify) listening on ${url}
  curl '${url}/search?q=taskscope'                                    # primary answers
  curl '${url}/search?q=taskscope&fail=primary'                       # backup answers
  curl '${url}/search?q=taskscope&fail=primary,backup,fallback'       # 502, every error listed
  curl '${url}/search?q=taskscope&slow=primary,backup,fallback'       # 504 after 1 s
  curl '${url}/search/race?q=taskscope&fail=primary'                  # plain race: the first to settle (a failure) decides`)
}
