// Kysely's PostgresDialect on a cancellable pool, unchanged: it checks a client out with
// pool.connect() and runs client.query(); a cancelled scope stops its query on the server, also
// inside a Kysely transaction (whose ROLLBACK runs in that same cancelled scope).
import { CancelledError, TaskGroup } from '@taskscope/core'
import { cancellable } from '@taskscope/pg'
import { rejectionOf } from '@taskscope/test-support'
import { Kysely, PostgresDialect, sql } from 'kysely'
import pg from 'pg'
import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import { databaseForThisFile, newTag, untilRunning, untilStopped } from './database.ts'

interface Schema {
  kysely_items: { id: number }
}

const db = databaseForThisFile()
let pool: pg.Pool
let kysely: Kysely<Schema>

beforeEach(async () => {
  pool = cancellable(new pg.Pool({ connectionString: db.server.url, max: 2 }))
  kysely = new Kysely<Schema>({ dialect: new PostgresDialect({ pool }) })
  await sql`create table if not exists kysely_items (id int)`.execute(kysely)
  await sql`truncate kysely_items`.execute(kysely)
})
afterEach(async () => {
  await kysely.destroy() // ends the pool
})

describe('Kysely on a cancellable pool', () => {
  it('stops a query when its task is cancelled and keeps the connection', async () => {
    const tag = newTag('kysely')
    const group = new TaskGroup()
    const task = group.createTask(() => sql.raw(`/* ${tag} */ select pg_sleep(30)`).execute(kysely))
    const [running] = await untilRunning(db.observer, tag)
    group.cancel()
    expect(await rejectionOf(task)).toBeInstanceOf(CancelledError)
    await group.close()
    const [stopped] = await untilStopped(db.observer, tag)
    expect(stopped).toMatchObject({ pid: running!.pid, state: 'idle' })
    expect(
      await kysely
        .selectFrom('kysely_items')
        .select((eb) => eb.fn.countAll<string>().as('n'))
        .executeTakeFirst(),
    ).toEqual({ n: '0' })
    expect(pool.totalCount).toBe(1)
  })

  it('rolls a cancelled transaction back and leaves the pool healthy', async () => {
    const tag = newTag('kysely_tx')
    const group = new TaskGroup()
    const task = group.createTask(() =>
      kysely.transaction().execute(async (trx) => {
        await trx.insertInto('kysely_items').values({ id: 1 }).execute()
        await sql.raw(`/* ${tag} */ select pg_sleep(30)`).execute(trx)
      }),
    )
    await untilRunning(db.observer, tag)
    group.cancel()
    expect(await rejectionOf(task)).toBeInstanceOf(CancelledError)
    await group.close()
    await untilStopped(db.observer, tag)
    expect(await kysely.selectFrom('kysely_items').selectAll().execute()).toEqual([])
    // The backend that ran it moved on: its last statement is the ROLLBACK, not the tagged one.
    const { rows } = await db.observer.query(`select state from pg_stat_activity where query like $1`, [`%${tag}%`])
    expect(rows).toEqual([])
    expect(pool.idleCount).toBe(pool.totalCount)
  })
})
