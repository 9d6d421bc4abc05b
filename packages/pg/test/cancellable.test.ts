// cancellable(): queries made under a scope are stopped on the server (pg_stat_activity, from
// another connection, shows the backend idle) and their connection stays usable; nothing made
// outside the scope is touched. A real PostgreSQL server, started for this file.
import { CancelledError, ClientDisconnectedError, shield, TaskGroup, TimeoutError } from '@taskscope/core'
import { cancellable } from '@taskscope/pg'
import { collectUnhandled, rejectionOf } from '@taskscope/test-support'
import pg from 'pg'
import { afterEach, describe, expect, it } from 'vitest'
import { databaseForThisFile, newTag, untilActivity, untilRunning, untilStopped } from './database.ts'

const db = databaseForThisFile()
const pools: pg.Pool[] = []

/** A cancellable pool of this file's server, ended after the test. */
function newPool(options: pg.PoolConfig = {}): pg.Pool {
  const pool = cancellable(new pg.Pool({ connectionString: db.server.url, max: 4, ...options }))
  pools.push(pool)
  return pool
}

afterEach(async () => {
  await Promise.all(pools.splice(0).map((pool) => pool.end()))
})

const backendPid = async (queryable: pg.Pool | pg.PoolClient | pg.Client): Promise<number> =>
  (await queryable.query<{ pid: number }>('select pg_backend_pid() as pid')).rows[0]!.pid

describe('cancellable(pool): pool.query() in a task', () => {
  it('stops the query on the server when the task is cancelled, rejects with the cancellation, and reuses the connection', async () => {
    const pool = newPool({ max: 1 })
    const pid = await backendPid(pool)
    const tag = newTag('task')
    const group = new TaskGroup()
    const task = group.createTask(() => pool.query(`/* ${tag} */ select pg_sleep(30)`))
    const [running] = await untilRunning(db.observer, tag)
    expect(running!.pid).toBe(pid)

    const reason = new ClientDisconnectedError()
    group.cancel(reason)
    expect(await rejectionOf(task)).toBe(reason)
    await group.close()

    const [stopped] = await untilStopped(db.observer, tag)
    expect(stopped).toMatchObject({ pid, state: 'idle' })
    // The same connection, back in the pool and usable.
    expect(pool.totalCount).toBe(1)
    expect(pool.idleCount).toBe(1)
    expect(await backendPid(pool)).toBe(pid)
    expect((await pool.query('select 41 + 1 as n')).rows).toEqual([{ n: 42 }])
  })

  it('stops it at the deadline of a group with a timeout (TimeoutError)', async () => {
    const pool = newPool()
    const tag = newTag('deadline')
    const group = new TaskGroup({ timeout: 300 })
    const task = group.createTask(() => pool.query(`/* ${tag} */ select pg_sleep(30)`))
    const started = performance.now()
    const error = await rejectionOf(task)
    expect(error).toBeInstanceOf(TimeoutError)
    expect(performance.now() - started).toBeLessThan(10_000) // not the 30 s of the query
    await group.close().catch(() => {})
    await untilStopped(db.observer, tag)
    expect(pool.idleCount).toBe(pool.totalCount)
  })

  it('cancels the loser of a task.cancel() alone: its sibling query completes', async () => {
    const pool = newPool()
    const [slow, fast] = [newTag('loser'), newTag('sibling')]
    await using group = new TaskGroup()
    const loser = group.createTask(() => pool.query(`/* ${slow} */ select pg_sleep(30)`))
    const sibling = group.createTask(() => pool.query(`/* ${fast} */ select pg_sleep(0.3), 7 as n`))
    await untilRunning(db.observer, slow)
    loser.cancel()
    expect(await rejectionOf(loser)).toBeInstanceOf(CancelledError)
    expect((await sibling).rows[0]).toMatchObject({ n: 7 })
    await untilStopped(db.observer, slow)
  })

  it('never touches a query made outside the scope, nor one inside shield()', async () => {
    const pool = newPool()
    const [outside, shielded, inside] = [newTag('outside'), newTag('shielded'), newTag('inside')]
    const group = new TaskGroup()
    const unscoped = pool.query(`/* ${outside} */ select pg_sleep(0.4), 'outside' as v`)
    const kept = group.createTask(() => shield(() => pool.query(`/* ${shielded} */ select pg_sleep(0.4), 'shielded' as v`)))
    const cancelled = group.createTask(() => pool.query(`/* ${inside} */ select pg_sleep(30)`))
    await Promise.all([untilRunning(db.observer, outside), untilRunning(db.observer, shielded), untilRunning(db.observer, inside)])
    group.cancel()
    expect(await rejectionOf(cancelled)).toBeInstanceOf(CancelledError)
    expect((await unscoped).rows[0]).toMatchObject({ v: 'outside' })
    expect((await kept).rows[0]).toMatchObject({ v: 'shielded' })
    await group.close()
  })

  it('rejects a query made in a scope already cancelled without sending it', async () => {
    const pool = newPool({ max: 1 })
    await backendPid(pool)
    const controller = new AbortController()
    const group = new TaskGroup({ signal: controller.signal })
    const tag = newTag('late')
    const task = group.createTask(async (signal) => {
      controller.abort(new Error('gone'))
      expect(signal.aborted).toBe(true)
      return pool.query(`/* ${tag} */ select 1`)
    })
    const error = await rejectionOf(task)
    expect(error).toBeInstanceOf(CancelledError)
    expect(error.cause).toBe(controller.signal.reason)
    expect(await rejectionOf(group.close())).toBe(error)
    expect((await db.observer.query('select count(*)::int as n from pg_stat_activity where query like $1', [`%${tag}%`])).rows[0].n).toBe(0)
    expect(pool.idleCount).toBe(1)
  })

  it('leaves a scope waiting for a client of a full pool at once, and the client goes back when it comes', async () => {
    const pool = newPool({ max: 1 })
    const blocker = newTag('blocker')
    const holding = pool.query(`/* ${blocker} */ select pg_sleep(0.3)`)
    await untilRunning(db.observer, blocker)
    const group = new TaskGroup()
    const waiting = group.createTask(() => pool.query('select 1'))
    group.cancel()
    expect(await rejectionOf(waiting)).toBeInstanceOf(CancelledError)
    await holding
    await group.close()
    expect((await pool.query('select 2 as n')).rows).toEqual([{ n: 2 }])
    expect(pool.idleCount).toBe(1)
    expect(pool.waitingCount).toBe(0)
  })

  it('supports the callback forms of pool.query() and client.query()', async () => {
    const pool = newPool()
    const tag = newTag('callback')
    const group = new TaskGroup()
    const viaPool = group.createTask(
      () =>
        new Promise((resolve, reject) =>
          pool.query(`/* ${tag} */ select pg_sleep(30)`, (error, result) => (error ? reject(error) : resolve(result))),
        ),
    )
    const client = await pool.connect()
    const viaClient = group.createTask(
      () =>
        new Promise((resolve, reject) =>
          client.query(`/* ${tag} */ select pg_sleep(30)`, [], (error, result) => (error ? reject(error) : resolve(result))),
        ),
    )
    await untilActive(tag, 2)
    group.cancel()
    expect(await rejectionOf(viaPool)).toBeInstanceOf(CancelledError)
    expect(await rejectionOf(viaClient)).toBeInstanceOf(CancelledError)
    await group.close()
    expect((await client.query('select 3 as n')).rows).toEqual([{ n: 3 }])
    client.release()
    await untilStopped(db.observer, tag)
  })
})

/** Waits until `count` backends run the SQL tagged `tag`. */
async function untilActive(tag: string, count: number): Promise<void> {
  await untilActivity(db.observer, tag, (rows) => rows.filter((row) => row.state === 'active').length === count)
}

describe('cancellable(pool): a transaction on a checked-out client', () => {
  it('cancels the statement; the ROLLBACK made in the same (cancelled) scope runs; the client is healthy', async () => {
    const pool = newPool({ max: 1 })
    await pool.query('create table if not exists tx_items (id int)')
    const tag = newTag('tx')
    const group = new TaskGroup()
    const task = group.createTask(async () => {
      const client = await pool.connect()
      try {
        await client.query('begin')
        await client.query('insert into tx_items values (1)')
        await client.query(`/* ${tag} */ select pg_sleep(30)`)
        await client.query('commit')
      } catch (error) {
        await client.query('rollback')
        throw error
      } finally {
        client.release()
      }
    })
    await untilRunning(db.observer, tag)
    group.cancel()
    expect(await rejectionOf(task)).toBeInstanceOf(CancelledError)
    await group.close()
    // Rolled back, and the very same connection answers normally (not in an aborted transaction).
    expect((await pool.query('select count(*)::int as n from tx_items')).rows).toEqual([{ n: 0 }])
    const client = await pool.connect()
    try {
      expect((await client.query('select 1 as n')).rows).toEqual([{ n: 1 }])
    } finally {
      client.release()
    }
    expect(pool.totalCount).toBe(1)
  })
})

describe('cancellable(client): a plain pg.Client', () => {
  it('stops its query and keeps the client usable', async () => {
    const client = cancellable(new pg.Client({ connectionString: db.server.url }))
    await client.connect()
    try {
      const tag = newTag('client')
      const group = new TaskGroup()
      const task = group.createTask(() => client.query(`/* ${tag} */ select pg_sleep(30)`))
      await untilRunning(db.observer, tag)
      group.cancel()
      expect(await rejectionOf(task)).toBeInstanceOf(CancelledError)
      await group.close()
      await untilStopped(db.observer, tag)
      expect((await client.query('select 5 as n')).rows).toEqual([{ n: 5 }])
    } finally {
      await client.end()
    }
  })

  it('keeps queries queued behind a cancelled one on the same client (they run, uncancelled)', async () => {
    const client = cancellable(new pg.Client({ connectionString: db.server.url }))
    await client.connect()
    try {
      const tag = newTag('queued')
      const group = new TaskGroup()
      const first = group.createTask(() => client.query(`/* ${tag} */ select pg_sleep(30)`))
      await untilRunning(db.observer, tag)
      const behind = client.query('select pg_sleep(0.05), 9 as n')
      group.cancel()
      expect(await rejectionOf(first)).toBeInstanceOf(CancelledError)
      expect((await behind).rows[0]).toMatchObject({ n: 9 })
      await group.close()
    } finally {
      await client.end()
    }
  })
})

describe('the race between a cancel request and the end of its query', () => {
  it('never cancels the next query on that connection (a storm of cancels landing at the end)', { timeout: 120_000 }, async () => {
    const pool = newPool({ max: 4 })
    const rounds = 400
    let cancelled = 0
    let finished = 0
    let nextFailed = 0
    const unhandled = await collectUnhandled(async () => {
      await Promise.all(
        Array.from({ length: 4 }, async (_, lane) => {
          for (let i = 0; i < rounds / 4; i++) {
            const client = await pool.connect()
            try {
              const group = new TaskGroup()
              // Mostly queries that end within a few ms, cancelled at a moment spread around their
              // end (a cancel request takes longer than that to reach the backend here: it lands
              // after the query ended, the very race); every fourth one runs long enough to be stopped.
              const seconds = i % 4 === 0 ? 1 : (i % 10) / 1000
              const task = group.createTask(() => client.query('select pg_sleep($1)', [seconds]))
              const delay = (i * 7 + lane) % 14
              setTimeout(() => group.cancel(), delay)
              const outcome = await task.then(
                () => 'finished',
                (error) => error,
              )
              if (outcome === 'finished') finished++
              else if (outcome instanceof CancelledError) cancelled++
              else throw outcome
              await group.close()
              // The next query, outside any scope, right after: it must never see a cancel.
              const next = await client.query('select pg_sleep(0.002), 1 as n').catch((error) => error)
              if (next instanceof Error) nextFailed++
            } finally {
              client.release()
            }
          }
        }),
      )
    })
    expect(nextFailed).toBe(0)
    expect(cancelled + finished).toBe(rounds)
    expect(cancelled).toBeGreaterThan(0)
    expect(finished).toBeGreaterThan(0)
    expect(pool.idleCount).toBe(pool.totalCount)
    expect(unhandled).toEqual([])
  })
})
