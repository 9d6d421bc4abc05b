// `taskscope:pg.query.cancel`: one message per query cancelled on the server, with the backend the
// cancel request targeted, the scope's cancellation, the query's SQL (cut) or name, how long it had
// run, and whether the cancel request got through; nothing for a query that completes, one outside
// any scope, one in shield(), or one that never reached the server. A real PostgreSQL server.
import diagnostics from 'node:diagnostics_channel'
import http from 'node:http'
import net from 'node:net'
import { CancelledError, ClientDisconnectedError, createRuntime, currentSignal, shield, TaskGroup, TimeoutError } from '@taskscope/core'
import { cancellable, type QueryCancelMessage } from '@taskscope/pg'
import {
  cleanup,
  closeLater,
  closeServer,
  collectWarnings,
  deferred,
  httpRequest,
  listenOnLoopback,
  rejectionOf,
} from '@taskscope/test-support'
import fc from 'fast-check'
import pg from 'pg'
import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import { queryTextLimit, shortText } from '../src/query-cancel-channel.ts'
import { databaseForThisFile, newTag, untilRunning, untilStopped } from './database.ts'

const channel = 'taskscope:pg.query.cancel'
const db = databaseForThisFile()
const pools: pg.Pool[] = []
let messages: QueryCancelMessage[]
const subscriber = (message: unknown): void => {
  messages.push(message as QueryCancelMessage)
}

beforeEach(() => {
  messages = []
  diagnostics.subscribe(channel, subscriber)
})
afterEach(async () => {
  diagnostics.unsubscribe(channel, subscriber)
  await cleanup()
  await Promise.all(pools.splice(0).map((pool) => pool.end()))
})

/** A cancellable pool of this file's server (or of `connectionString`), ended after the test. */
function newPool(options: pg.PoolConfig = {}): pg.Pool {
  const pool = cancellable(new pg.Pool({ connectionString: db.server.url, max: 4, ...options }))
  pools.push(pool)
  return pool
}

const backendPid = async (queryable: pg.Pool | pg.PoolClient): Promise<number> =>
  (await queryable.query<{ pid: number }>('select pg_backend_pid() as pid')).rows[0]!.pid

describe('taskscope:pg.query.cancel', () => {
  it('reports a task cancelled mid-query: backend, reason, SQL, running time, the acknowledged cancel request', async () => {
    const pool = newPool({ max: 1 })
    const client = await pool.connect()
    const pid = await backendPid(client)
    const tag = newTag('channel')
    const sql = `/* ${tag} */ select pg_sleep(30)`
    const group = new TaskGroup()
    const before = performance.now()
    const order: string[] = []
    const task = group.createTask(() =>
      client.query(sql).catch((error) => {
        order.push(`rejected after ${messages.length} message(s)`)
        throw error
      }),
    )
    await untilRunning(db.observer, tag)
    const reason = new ClientDisconnectedError()
    const cancelledAt = performance.now()
    group.cancel(reason)
    expect(await rejectionOf(task)).toBe(reason)
    const settledAt = performance.now()
    await group.close()
    client.release()

    // Published once, before the query rejected.
    expect(order).toEqual(['rejected after 1 message(s)'])
    expect(messages).toHaveLength(1)
    const [message] = messages
    expect(message).toEqual({
      pid,
      host: '127.0.0.1',
      port: db.server.port,
      reason,
      text: sql,
      name: undefined,
      runningMs: expect.any(Number),
      stopMs: expect.any(Number),
      outcome: 'cancelled',
      cancelRequests: expect.any(Number),
      acknowledged: true,
      error: undefined,
      client,
    })
    expect(message!.reason).toMatchObject({ code: 'ERR_CLIENT_CLOSED_REQUEST' })
    // Measured by the package between the query's hand-over and the cancellation: within what the test saw.
    expect(message!.runningMs).toBeGreaterThan(0)
    expect(message!.runningMs).toBeLessThanOrEqual(cancelledAt - before)
    expect(message!.stopMs).toBeGreaterThanOrEqual(0)
    expect(message!.stopMs).toBeLessThanOrEqual(settledAt - cancelledAt)
    expect(message!.cancelRequests).toBeGreaterThanOrEqual(1)
    await untilStopped(db.observer, tag)
  })

  it('reports a request whose client disconnected (over a real socket) with its ClientDisconnectedError', async () => {
    const pool = newPool({ max: 1 })
    const pid = await backendPid(pool)
    const runtime = createRuntime({ shutdownTimeout: 1_000 })
    const tag = newTag('request')
    const failed = deferred<unknown>()
    const server = http.createServer((req, res) => {
      const group = runtime.requestGroup(req, res)
      group
        .createTask(() => pool.query(`/* ${tag} */ select pg_sleep(30)`))
        .then(
          () => res.end('done'),
          (error) => failed.resolve(error),
        )
    })
    runtime.attach(server)
    const port = await listenOnLoopback(server)
    closeLater({ close: () => runtime.close() })

    const call = httpRequest(port, { path: '/report' })
    await untilRunning(db.observer, tag)
    call.req.destroy()
    const error = await failed.promise
    expect(error).toBeInstanceOf(ClientDisconnectedError)
    expect(messages).toMatchObject([
      { pid, reason: error, outcome: 'cancelled', acknowledged: true, text: `/* ${tag} */ select pg_sleep(30)` },
    ])
    expect(messages[0]!.reason).toMatchObject({ code: 'ERR_CLIENT_CLOSED_REQUEST' })
    const [stopped] = await untilStopped(db.observer, tag)
    expect(stopped).toMatchObject({ pid, state: 'idle' })
  })

  it("reports a deadline's TimeoutError, a named query's name, and SQL cut to its first characters", async () => {
    const pool = newPool()
    const tag = newTag('named')
    // Long, with characters outside the BMP across the cut: the text stays well formed.
    const text = `/* ${tag} ${'🐘'.repeat(150)} */ select pg_sleep(30)`
    const group = new TaskGroup({ timeout: 200 })
    const task = group.createTask(() => pool.query(new Proxy({ name: `report_${tag}`, text }, {})))
    const error = await rejectionOf(task)
    expect(error).toBeInstanceOf(TimeoutError)
    await group.close().catch(() => {})
    expect(messages).toHaveLength(1)
    const [message] = messages
    expect(message).toMatchObject({ reason: error, name: `report_${tag}`, outcome: 'cancelled' })
    expect(message!.reason).toMatchObject({ code: 'ERR_TIMEOUT' })
    expect(message!.text).toBe(shortText(text))
    expect(message!.text!.length).toBeLessThanOrEqual(queryTextLimit)
    expect(message!.text!.endsWith('…')).toBe(true)
    expect(text.startsWith(message!.text!.slice(0, -1))).toBe(true)
    await untilStopped(db.observer, tag)
  })

  it('publishes nothing for a query that completes, one outside any scope, one in shield(), or one never sent', async () => {
    const pool = newPool({ max: 2 })
    const [shielded, cancelled] = [newTag('shielded'), newTag('cancelled')]
    // Completes inside a scope; and one outside any scope.
    const calm = new TaskGroup()
    await calm.createTask(() => pool.query('select pg_sleep(0.01)'))
    await calm.close()
    await pool.query('select pg_sleep(0.01)')
    // A shielded query in a group that is cancelled: it runs to its end; its sibling is cancelled.
    const group = new TaskGroup()
    const kept = group.createTask(() => shield(() => pool.query(`/* ${shielded} */ select pg_sleep(0.3), 'kept' as v`)))
    const stopped = group.createTask(() => pool.query(`/* ${cancelled} */ select pg_sleep(30)`))
    await Promise.all([untilRunning(db.observer, shielded), untilRunning(db.observer, cancelled)])
    group.cancel()
    expect(await rejectionOf(stopped)).toBeInstanceOf(CancelledError)
    expect((await kept).rows[0]).toMatchObject({ v: 'kept' })
    await group.close()
    // Made in a scope already cancelled: rejected without reaching the server.
    const late = new TaskGroup()
    const never = late.createTask(async () => {
      late.cancel()
      await Promise.resolve()
      expect(currentSignal()?.aborted).toBe(true)
      return pool.query('select 1')
    })
    expect(await rejectionOf(never)).toBeInstanceOf(CancelledError)
    await late.close().catch(() => {})
    // Only the one that was cancelled on the server.
    expect(messages.map((message) => message.text)).toEqual([`/* ${cancelled} */ select pg_sleep(30)`])
  })

  it('says when the cancel request could not be delivered: not acknowledged, its error, the query completed', async () => {
    // A TCP relay in front of the server that takes one connection (the query's) and then stops
    // listening: the cancel request's connection is refused.
    const relay = net.createServer((socket) => {
      relay.close()
      const upstream = net.connect(db.server.port, '127.0.0.1')
      socket.pipe(upstream).pipe(socket)
      socket.on('error', () => upstream.destroy())
      upstream.on('error', () => socket.destroy())
      closeLater({
        close() {
          socket.destroy()
          upstream.destroy()
        },
      })
    })
    const port = await listenOnLoopback(relay)
    closeLater({ close: () => closeServer(relay).catch(() => {}) })
    const client = cancellable(new pg.Client({ host: '127.0.0.1', port, user: 'postgres', database: 'postgres' }))
    await client.connect()
    closeLater({ close: () => client.end() }, 'client')
    const { warnings, flush } = collectWarnings()
    const tag = newTag('undelivered')
    const group = new TaskGroup()
    const task = group.createTask(() => client.query(`/* ${tag} */ select pg_sleep(0.5), 'finished' as v`))
    await untilRunning(db.observer, tag)
    group.cancel()
    // The query ran to its end: its result is delivered.
    expect(((await task) as pg.QueryResult).rows[0]).toMatchObject({ v: 'finished' })
    await group.close()
    expect(messages).toHaveLength(1)
    expect(messages[0]).toMatchObject({ outcome: 'completed', acknowledged: false, cancelRequests: 1, error: { code: 'ECONNREFUSED' } })
    await flush()
    expect(warnings).toMatchObject([{ name: 'TaskscopePgWarning', code: 'TASKSCOPE_PG_CANCEL_FAILED' }])
  })
})

describe('shortText (the SQL a message carries)', () => {
  it('keeps short SQL whole and cuts long SQL to a well-formed prefix with …', () => {
    fc.assert(
      fc.property(fc.string({ unit: 'grapheme', maxLength: 400 }), (text) => {
        const short = shortText(text)!
        if (text.length <= queryTextLimit) {
          expect(short).toBe(text)
          return
        }
        expect(short.length).toBeLessThanOrEqual(queryTextLimit)
        expect(short.endsWith('…')).toBe(true)
        expect(text.startsWith(short.slice(0, -1))).toBe(true)
        // No lone surrogate: the cut never splits a pair.
        expect(/[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/.test(short)).toBe(false)
      }),
    )
  })

  it('is undefined for anything but a string', () => {
    for (const value of [undefined, null, 42, {}, new String('select 1'), Symbol('x')]) expect(shortText(value)).toBeUndefined()
  })
})
