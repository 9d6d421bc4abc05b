// Matrix row 11 (H4): a cancellation escaping a handler answers a quiet 499, never a 500, in all three
// frameworks (Express: with `c.errorHandler()` mounted after the routes — helpers/servers.ts does).
// A plain failure still answers 500, so the error path under test is real.
import { setTimeout as sleep } from 'node:timers/promises'
import { CancelledError, ClientDisconnectedError, isCancellation, ShutdownError, TimeoutError } from '@taskscope/core'
import { cleanup, codeOf, deferred, rawConnect, rawHttpRequest, untilAborted, waitForAbort } from '@taskscope/test-support'
import request from 'supertest'
import { afterEach, describe, expect, it } from 'vitest'
import { frameworks, roundTrip } from './helpers/servers.ts'

afterEach(cleanup)

describe.each(frameworks)('$name: a cancellation escaping a handler', (fw) => {
  it('a cancelled task awaited by the handler answers 499, and nothing is logged as an error', async () => {
    const app = await fw.start({
      routes: [
        {
          method: 'GET',
          path: '/cancelled-task',
          handler: async ({ taskGroup }) => {
            const task = taskGroup.createTask(untilAborted, { name: 'doomed' })
            task.cancel()
            return await task
          },
        },
        {
          method: 'POST',
          path: '/cancelled-group',
          handler: async ({ taskGroup }) => {
            const task = taskGroup.createTask(untilAborted, { name: 'doomed' })
            taskGroup.cancel()
            return await task
          },
        },
      ],
    })
    const a = await request(app.url).get('/cancelled-task')
    expect(a.status).toBe(499)
    const b = await request(app.url).post('/cancelled-group').send({ x: 1 })
    expect(b.status).toBe(499)
    await roundTrip(app)
    expect(app.logs.loudCancellations()).toEqual([])
  })

  it('a ClientDisconnectedError thrown by the handler itself answers 499', async () => {
    const app = await fw.start({
      routes: [
        {
          method: 'GET',
          path: '/throws',
          handler: () => {
            throw new ClientDisconnectedError('upstream client went away')
          },
        },
      ],
    })
    const res = await request(app.url).get('/throws')
    expect(res.status).toBe(499)
    expect(res.status).not.toBe(500)
  })

  const thrown: Array<[string, () => Promise<unknown>, number]> = [
    ['a CancelledError', async () => Promise.reject(new CancelledError()), 499],
    ['a ShutdownError', async () => Promise.reject(new ShutdownError()), 503],
    ['a TimeoutError', async () => Promise.reject(new TimeoutError()), 504],
    ["Node's AbortError (ABORT_ERR), no status of its own", () => sleep(60_000, undefined, { signal: AbortSignal.abort() }), 499],
    [
      "Node's AbortError whose cause is a ShutdownError",
      () => sleep(60_000, undefined, { signal: AbortSignal.abort(new ShutdownError()) }),
      503,
    ],
  ]

  it.each(thrown)('%s thrown by the handler answers its own status, never a 500', async (_name, fail, status) => {
    const app = await fw.start({ routes: [{ method: 'GET', path: '/fail', handler: () => fail() }] })
    expect((await request(app.url).get('/fail')).status).toBe(status)
    await roundTrip(app)
    expect(app.logs.loudCancellations()).toEqual([])
    expect(app.logs.entries.filter((e) => e.source === 'koa-app-error' || e.source === 'express-final-handler')).toEqual([])
  })

  it('a plain error still answers 500 (control)', async () => {
    const app = await fw.start({
      routes: [
        {
          method: 'GET',
          path: '/boom',
          handler: () => {
            throw new Error('boom')
          },
        },
      ],
    })
    const res = await request(app.url).get('/boom')
    expect(res.status).toBe(500)
  })

  it('after a real disconnect the escaping cancellation is handled quietly (no error-level log)', async () => {
    const threw = deferred<unknown>()
    const started = deferred<AbortSignal>()
    const app = await fw.start({
      routes: [
        {
          method: 'POST',
          path: '/gone',
          handler: async ({ taskGroup }) => {
            started.resolve(taskGroup.signal)
            try {
              return await taskGroup.createTask(untilAborted)
            } catch (error) {
              threw.resolve(error)
              throw error
            }
          },
        },
      ],
    })
    const conn = await rawConnect(app.port)
    conn.write(rawHttpRequest({ method: 'POST', path: '/gone', body: { a: 1 } }))
    const signal = await started.promise
    conn.destroy()
    expect(codeOf(await waitForAbort(signal))).toBe('ERR_CLIENT_CLOSED_REQUEST')
    expect(isCancellation(await threw.promise)).toBe(true)
    await roundTrip(app) // the framework has handled the escaped error by now
    expect(app.logs.loudCancellations()).toEqual([])
    // Not even at info: the adapter handled it, so no framework error sink (Koa's 'error' event,
    // Express' next error handler) saw it.
    expect(app.logs.entries.filter((e) => e.source === 'koa-app-error' || e.source === 'express-final-handler')).toEqual([])
  })
})
