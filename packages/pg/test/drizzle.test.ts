// Drizzle's node-postgres driver on a cancellable pool, unchanged: it runs pool.query() (and, for a
// transaction, pool.connect() then client.query()); a cancelled scope stops its query on the server.
import { CancelledError, TaskGroup } from '@taskscope/core'
import { cancellable } from '@taskscope/pg'
import { rejectionOf } from '@taskscope/test-support'
import { sql } from 'drizzle-orm'
import { drizzle } from 'drizzle-orm/node-postgres'
import pg from 'pg'
import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import { databaseForThisFile, newTag, untilRunning, untilStopped } from './database.ts'

const db = databaseForThisFile()
let pool: pg.Pool

beforeEach(async () => {
  pool = cancellable(new pg.Pool({ connectionString: db.server.url, max: 2 }))
  await pool.query('create table if not exists drizzle_items (id int)')
  await pool.query('truncate drizzle_items')
})
afterEach(() => pool.end())

describe('Drizzle on a cancellable pool', () => {
  it('stops a query when its task is cancelled and keeps the connection', async () => {
    const orm = drizzle({ client: pool })
    const tag = newTag('drizzle')
    const group = new TaskGroup()
    const task = group.createTask(() => orm.execute(sql.raw(`/* ${tag} */ select pg_sleep(30)`)))
    const [running] = await untilRunning(db.observer, tag)
    group.cancel()
    // Drizzle wraps a failed query's error in its own (`Failed query: …`): the cancellation is its cause.
    const error = await rejectionOf(task)
    expect(error instanceof CancelledError || error?.cause instanceof CancelledError, String(error)).toBe(true)
    await group.close()
    const [stopped] = await untilStopped(db.observer, tag)
    expect(stopped).toMatchObject({ pid: running!.pid, state: 'idle' })
    expect((await orm.execute(sql`select 1 as n`)).rows).toEqual([{ n: 1 }])
    expect(pool.idleCount).toBe(pool.totalCount)
  })

  it('rolls a cancelled transaction back and leaves the pool healthy', async () => {
    const orm = drizzle({ client: pool })
    const tag = newTag('drizzle_tx')
    const group = new TaskGroup()
    const task = group.createTask(() =>
      orm.transaction(async (tx) => {
        await tx.execute(sql`insert into drizzle_items values (1)`)
        await tx.execute(sql.raw(`/* ${tag} */ select pg_sleep(30)`))
      }),
    )
    await untilRunning(db.observer, tag)
    group.cancel()
    const error = await rejectionOf(task)
    expect(error instanceof CancelledError || error?.cause instanceof CancelledError, String(error)).toBe(true)
    await group.close()
    await untilStopped(db.observer, tag)
    expect((await pool.query('select count(*)::int as n from drizzle_items')).rows).toEqual([{ n: 0 }])
    expect(pool.idleCount).toBe(pool.totalCount)
  })
})
