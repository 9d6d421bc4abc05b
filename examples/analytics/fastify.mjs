/**
 * Daily analytics (Fastify): an expensive report computed at most once and shared, with
 * `AsyncLazy`. The computation runs in the app's worker pool; concurrent requests share one
 * computation (ten dashboards opening at 9:00 cost one run, not ten); the value expires after
 * `ttl`; and a background task refreshes it every `refreshEvery` ms so that users rarely wait.
 * POST /analytics/refresh drops the cached value (the next GET computes afresh).
 *
 *   node examples/analytics/fastify.mjs
 *   curl http://localhost:3000/analytics/daily
 *   curl -X POST http://localhost:3000/analytics/refresh
 */
import { setInterval } from 'node:timers/promises'
import { pathToFileURL } from 'node:url'
import { AsyncLazy, isCancellation } from '@taskscope/core'
import { concurrencyPlugin } from '@taskscope/fastify'
import closeWithGrace from 'close-with-grace'
import Fastify from 'fastify'

/**
 * Aggregates a day of (generated) orders: CPU-bound, so it runs on a pool thread. It is shipped
 * there by source, so it must be self-contained: only its parameters, globals and `import()`.
 */
function computeDailyStats(day, orders) {
  let seed = [...day].reduce((h, c) => (h * 31 + c.charCodeAt(0)) >>> 0, 7)
  const random = () => (seed = (seed * 1664525 + 1013904223) >>> 0) / 2 ** 32
  const byHour = new Array(24).fill(0)
  const amounts = new Float64Array(orders)
  let revenue = 0
  for (let i = 0; i < orders; i++) {
    const amount = Math.round(5 + random() ** 3 * 500)
    amounts[i] = amount
    revenue += amount
    byHour[Math.floor(random() * 24)]++
  }
  amounts.sort()
  const percentile = (p) => amounts[Math.min(orders - 1, Math.floor(p * orders))]
  return {
    day,
    orders,
    revenue,
    average: Math.round(revenue / orders),
    median: percentile(0.5),
    p95: percentile(0.95),
    busiestHour: byHour.indexOf(Math.max(...byHour)),
  }
}

/** The routes, as a Fastify plugin. */
export async function analyticsRoutes(app, { orders = 1_000_000, ttl = 5 * 60_000, refreshEvery = 60_000 } = {}) {
  let computations = 0
  const daily = new AsyncLazy(
    async (signal) => {
      const day = new Date().toISOString().slice(0, 10)
      const stats = await app.threadpool.run(computeDailyStats, [day, orders], { signal })
      return { ...stats, computation: ++computations, computedAt: new Date().toISOString() }
    },
    { ttl },
  )

  // Refresh ahead of the TTL, in an app-lifetime background task (visible in the registry).
  const refresher = app.backgroundTasks.add(
    async (signal) => {
      for await (const _ of setInterval(refreshEvery, undefined, { signal })) {
        daily.reset()
        await daily.get({ signal }).catch((error) => {
          if (!isCancellation(error)) app.log.warn({ err: error }, 'daily analytics refresh failed; next try at the next tick')
        })
      }
    },
    { name: 'analytics: refresh loop' },
  )
  app.addHook('preClose', async () => {
    refresher.cancel() // a loop never ends by itself: stop it before the shutdown waits for background tasks
  })

  app.get('/analytics/daily', async (request) => {
    const cached = daily.state === 'ready'
    const stats = await daily.get({ signal: request.taskGroup.signal }) // a client leaving stops only its own wait
    return { ...stats, cached }
  })

  app.post('/analytics/refresh', async () => {
    daily.reset()
    return { state: daily.state }
  })
}

export async function build({ logger = false, ...options } = {}) {
  const app = Fastify({ logger })
  await app.register(concurrencyPlugin)
  await app.register(analyticsRoutes, options)
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
  console.log(`Daily analytics (Fastify) listening on ${url}
  curl ${url}/analytics/daily              # computed in the pool the first time, cached after
  curl -X POST ${url}/analytics/refresh    # drop the cached value`)
}
