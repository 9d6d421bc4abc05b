// Suite 8: a query cancelled on disconnect. A Fastify app (taskscope adapter) runs a 30-second
// `pg_sleep` on a `cancellable()` pool of a throwaway PostgreSQL server; once pg_stat_activity
// shows the backend running it, the client destroys its socket, and we time from `destroy()` to
// (a) pg_stat_activity showing that backend no longer active (polled from another connection,
// back to back) and (b) the handler's query rejecting. Sequential, one fresh connection each,
// client, server and observer in this process (one clock). The floor: the same query stopped by
// `pg_cancel_backend()` from an already open connection (no cancel connection to open), timed the
// same way. Goal: p99 under 50 ms.
import { request } from 'node:http'
import { percentile } from '../lib/stats.mjs'

export const name = 'postgres'

let why
export async function available() {
  try {
    const { postgresMissing } = await import('@taskscope/test-support/postgres-server')
    why = postgresMissing()
    await import('@taskscope/pg')
    await import('pg')
  } catch (error) {
    why = `@taskscope/pg or pg cannot be imported (${error.code ?? error.message}); is packages/pg/dist built?`
  }
  return why
}

export function placeholderRows(reason) {
  return [
    {
      suite: name,
      case: 'query cancelled on disconnect',
      impl: 'cancellable(pool) on Fastify',
      skipped: reason,
      value: Number.NaN,
      ratio: Number.NaN,
    },
  ]
}

/** Polls pg_stat_activity (back to back) until `check(state)` holds for the backend `pid`. */
async function untilState(observer, pid, check) {
  for (let i = 0; i < 100_000; i++) {
    const { rows } = await observer.query('select state from pg_stat_activity where pid = $1', [pid])
    if (check(rows[0]?.state)) return performance.now()
  }
  throw new Error(`backend ${pid} never reached the expected state`)
}

/** Polls until a backend runs the SQL tagged `tag`; resolves with its pid. */
async function untilRunning(observer, tag) {
  for (let i = 0; i < 100_000; i++) {
    const { rows } = await observer.query(
      `select pid from pg_stat_activity where state = 'active' and query like $1 and pid <> pg_backend_pid()`,
      [`%${tag}%`],
    )
    if (rows.length > 0) return rows[0].pid
    await new Promise((resolve) => setTimeout(resolve, 1))
  }
  throw new Error(`${tag} never ran`)
}

export async function run({ quick }) {
  const n = quick ? 10 : 200
  const [{ startPostgres }, { cancellable }, { default: pg }, { default: Fastify }, { concurrencyPlugin }] = await Promise.all([
    import('@taskscope/test-support/postgres-server'),
    import('@taskscope/pg'),
    import('pg'),
    import('fastify'),
    import('@taskscope/fastify'),
  ])
  const server = await startPostgres()
  const observer = new pg.Client({ connectionString: server.url })
  await observer.connect()
  const pool = cancellable(new pg.Pool({ connectionString: server.url, max: 2 }))
  const plain = new pg.Client({ connectionString: server.url })
  await plain.connect()
  const rejected = new Map()
  const app = Fastify({ logger: false })
  await app.register(concurrencyPlugin)
  app.get('/query/:tag', async (req) => {
    try {
      return (await pool.query(`/* ${req.params.tag} */ select pg_sleep(30)`)).rows
    } catch (error) {
      rejected.get(req.params.tag)?.(performance.now())
      throw error
    }
  })
  await app.listen({ host: '127.0.0.1', port: 0 })
  const { port } = app.server.address()
  const idle = []
  const handler = []
  const floor = []
  try {
    for (let i = 0; i < n + 10; i++) {
      const tag = `bench_${process.pid}_${i}`
      const handlerDone = new Promise((resolve) => rejected.set(tag, resolve))
      const req = request({ host: '127.0.0.1', port, path: `/query/${tag}`, agent: false })
      req.on('error', () => {})
      req.end()
      const pid = await untilRunning(observer, tag)
      const t0 = performance.now()
      req.destroy()
      const t1 = await untilState(observer, pid, (state) => state !== 'active')
      const t2 = await handlerDone
      rejected.delete(tag)
      if (i >= 10) {
        // the first 10: warm-up
        idle.push(t1 - t0)
        handler.push(t2 - t0)
      }
      // Floor: the same query on a plain connection, stopped by pg_cancel_backend() from the observer.
      const floorTag = `bench_floor_${process.pid}_${i}`
      const query = plain.query(`/* ${floorTag} */ select pg_sleep(30)`).catch(() => {})
      const floorPid = await untilRunning(observer, floorTag)
      const f0 = performance.now()
      await observer.query('select pg_cancel_backend($1)', [floorPid])
      const f1 = await untilState(observer, floorPid, (state) => state !== 'active')
      await query
      if (i >= 10) floor.push(f1 - f0)
    }
  } finally {
    await app.close()
    await pool.end()
    await plain.end()
    await observer.end()
    await server.stop()
  }
  const caseLabel = `query cancelled on disconnect (Fastify, pg_sleep(30) on a cancellable pool), ${n} disconnects`
  const row = (impl, values, p, base, extra = {}) => ({
    suite: name,
    case: caseLabel,
    impl: `${impl}: p${p}`,
    value: percentile(values, p),
    unit: 'ms',
    ratio: percentile(values, p) / percentile(floor, p),
    vs: `floor p${p}`,
    ...extra,
  })
  return [
    row('pg_cancel_backend() from an open connection → backend idle (floor)', floor, 50),
    row('pg_cancel_backend() floor', floor, 99),
    row('socket destroyed → backend idle (pg_stat_activity)', idle, 50),
    row('socket destroyed → backend idle (pg_stat_activity)', idle, 99, undefined, {
      target: 'p99 < 50 ms',
      met: percentile(idle, 99) < 50,
    }),
    row('socket destroyed → query rejected in the handler', handler, 50),
    row('socket destroyed → query rejected in the handler', handler, 99),
  ]
}
