// Cancellation that reaches the database, on all three adapters over real sockets: a handler's
// `pool.query()` on a `cancellable()` pool is stopped on the PostgreSQL server (a real one,
// started for this file) when the client disconnects; under a disconnect storm every abandoned
// request's query stops, no completed request's query is cancelled, and the pool ends with every
// connection idle and usable.
//
// PG_STORM_REQUESTS sets the storm's size per framework (default 1,000 requests, a third abandoned: 3,000 over the three).
import { ClientDisconnectedError, isCancellation } from '@taskscope/core'
import { cancellable } from '@taskscope/pg'
import {
  cleanup,
  collectUnhandled,
  type Deferred,
  deferred,
  httpRequest,
  newTag,
  type PostgresServer,
  startPostgres,
  untilRunning,
  untilStopped,
} from '@taskscope/test-support'
import pg from 'pg'
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest'
import { frameworks } from './helpers/servers.ts'

let server: PostgresServer
let observer: pg.Client

beforeAll(async () => {
  server = await startPostgres()
  observer = new pg.Client({ connectionString: server.url })
  await observer.connect()
}, 60_000)
afterAll(async () => {
  await observer?.end()
  await server?.stop()
})
afterEach(cleanup)

const REQUESTS = Number(process.env.PG_STORM_REQUESTS ?? 1_000)
const LANES = 24

/** What a handler's query ended with. */
type Outcome = 'ok' | 'cancelled' | { error: unknown }

/** A pool, an app whose handler runs one tagged query per request, and what each query ended with. */
async function appWithQueries(fw: (typeof frameworks)[number], max: number) {
  const pool = cancellable(new pg.Pool({ connectionString: server.url, max }))
  const started = new Map<string, Deferred<void>>()
  const outcomes = new Map<string, { outcome: Outcome; reason?: unknown }>()
  const app = await fw.start({
    routes: [
      {
        method: 'GET',
        path: '/query/:tag/:seconds',
        handler: async (ctx) => {
          const { tag, seconds } = ctx.params as { tag: string; seconds: string }
          started.get(tag)?.resolve()
          try {
            // Nothing passed by hand: the query is made under the request's currentSignal().
            await pool.query(`/* ${tag} */ select pg_sleep($1)`, [Number(seconds)])
            outcomes.set(tag, { outcome: 'ok' })
            return { tag }
          } catch (error) {
            outcomes.set(tag, isCancellation(error) ? { outcome: 'cancelled', reason: error } : { outcome: { error } })
            throw error
          }
        },
      },
    ],
  })
  const expectStarted = (tag: string): Promise<void> => {
    const entered = deferred<void>()
    started.set(tag, entered)
    return entered.promise
  }
  return { pool, app, outcomes, expectStarted }
}

/** Every connection of the pool answers a query (checked out all at once, so each one is tried). */
async function allConnectionsUsable(pool: pg.Pool): Promise<void> {
  const clients = await Promise.all(Array.from({ length: pool.totalCount }, () => pool.connect()))
  try {
    const answers = await Promise.all(clients.map((client) => client.query('select 1 as n')))
    expect(answers.map((answer) => answer.rows)).toEqual(clients.map(() => [{ n: 1 }]))
  } finally {
    for (const client of clients) client.release()
  }
}

describe.each(frameworks)('$name: a query on a cancellable pool', (fw) => {
  it('is stopped on the server when the client disconnects; its connection goes back to the pool', async () => {
    const { pool, app, outcomes, expectStarted } = await appWithQueries(fw, 2)
    try {
      const tag = newTag(`disconnect_${fw.name}`)
      const entered = expectStarted(tag)
      const call = httpRequest(app.port, { path: `/query/${tag}/30` })
      await entered
      const [running] = await untilRunning(observer, tag)
      call.req.destroy()
      const [stopped] = await untilStopped(observer, tag)
      expect(stopped).toMatchObject({ pid: running!.pid, state: 'idle' })
      await expect.poll(() => outcomes.get(tag)?.outcome).toBe('cancelled')
      expect(outcomes.get(tag)!.reason).toBeInstanceOf(ClientDisconnectedError)
      await expect.poll(() => pool.idleCount).toBe(pool.totalCount)
      await allConnectionsUsable(pool)
    } finally {
      await app.close()
      await pool.end()
    }
  })

  it(`disconnect storm: ${REQUESTS} requests, a third abandoned mid-query`, { timeout: 300_000 }, async () => {
    const { pool, app, outcomes, expectStarted } = await appWithQueries(fw, 10)
    const abandoned: string[] = []
    const completed: string[] = []
    const statuses = new Map<string, number>()
    try {
      const unhandled = await collectUnhandled(async () => {
        let next = 0
        await Promise.all(
          Array.from({ length: LANES }, async () => {
            for (let i = next++; i < REQUESTS; i = next++) {
              const tag = newTag(`storm_${fw.name}`)
              if (i % 3 === 0) {
                // Abandoned: a query that would run 30 s, dropped once the handler has made it,
                // after a short, varying moment (some still wait for a connection, most run).
                abandoned.push(tag)
                const entered = expectStarted(tag)
                const call = httpRequest(app.port, { path: `/query/${tag}/30` })
                await entered
                await new Promise((resolve) => setTimeout(resolve, i % 7))
                call.req.destroy()
                await call.response.catch(() => {})
              } else {
                completed.push(tag)
                const response = await httpRequest(app.port, { path: `/query/${tag}/0.001` }).response
                statuses.set(tag, response.status)
              }
            }
          }),
        )
        // Every abandoned request's handler has seen its query end.
        await expect.poll(() => abandoned.filter((tag) => !outcomes.has(tag)).length, { timeout: 60_000 }).toBe(0)
      })
      expect(unhandled).toEqual([])
      // Every abandoned request's query was cancelled with the disconnect...
      const notCancelled = abandoned.filter((tag) => outcomes.get(tag)?.outcome !== 'cancelled')
      expect(notCancelled.map((tag) => [tag, outcomes.get(tag)])).toEqual([])
      // ... and none still runs on the server.
      const { rows } = await observer.query(
        `select count(*)::int as n from pg_stat_activity where state = 'active' and query like '%storm_${fw.name}%' and pid <> pg_backend_pid()`,
      )
      expect(rows).toEqual([{ n: 0 }])
      // No completed request's query was cancelled.
      expect(completed.filter((tag) => outcomes.get(tag)?.outcome !== 'ok' || statuses.get(tag) !== 200)).toEqual([])
      // The pool: every connection idle and usable, nobody waiting.
      await expect.poll(() => pool.idleCount).toBe(pool.totalCount)
      expect(pool.waitingCount).toBe(0)
      await allConnectionsUsable(pool)
      console.log(
        `[pg storm] ${fw.name}: ${REQUESTS} requests, ${abandoned.length} abandoned (all cancelled), ${completed.length} completed, pool ${pool.totalCount} connections idle`,
      )
    } finally {
      await app.close()
      await pool.end()
    }
  })
})
