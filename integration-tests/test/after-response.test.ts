// Work after the response: `after(work)` runs once the response has finished or the client has gone,
// `waitUntil(work)` starts now; both are background tasks of the app (named after the route, listed,
// drained on shutdown, failures logged with the request's logger), keep the request's
// AsyncLocalStorage context, and are never cancelled by the request's end or a disconnect.
// Also here: currentTaskGroup() inside handlers, and the request group's deadline from the route's timeout.
import { AsyncLocalStorage } from 'node:async_hooks'
import { setImmediate as immediate } from 'node:timers/promises'
import { type BackgroundTask, ClientDisconnectedError, currentTaskGroup, type TaskGroup } from '@taskscope/core'
import { cleanup, deferred, promiseState, rawConnect, rawHttpRequest, untilAborted, waitForAbort } from '@taskscope/test-support'
import request from 'supertest'
import { afterEach, describe, expect, it, vi } from 'vitest'
import { frameworks } from './helpers/servers.ts'

afterEach(cleanup)

const requestId = new AsyncLocalStorage<string>()

/** A service function deep in a handler's call tree. */
async function service(): Promise<TaskGroup | undefined> {
  await immediate()
  return currentTaskGroup()
}

describe.each(frameworks)('$name: after() and waitUntil()', (fw) => {
  it("after() runs once the response has finished, as a named, listed background task, in the request's context", async () => {
    const gate = deferred()
    const ran = deferred<{ outcome: unknown; id: string | undefined; group: TaskGroup | undefined; aborted: boolean }>()
    let job: BackgroundTask | undefined
    let startedDuringHandler = false
    const app = await fw.start({
      routes: [
        {
          method: 'POST',
          path: '/orders',
          handler: (ctx) =>
            requestId.run('req-7', () => {
              job = ctx.after(async (signal, outcome) => {
                startedDuringHandler = job === undefined
                await gate.promise
                ran.resolve({ outcome, id: requestId.getStore(), group: await service(), aborted: signal.aborted })
              })
              return { status: job.status }
            }),
        },
      ],
    })
    const res = await request(app.url).post('/orders').send({ item: 1 })
    expect(res.body).toEqual({ status: 'running' })
    expect(app.backgroundTasks.list()).toEqual([expect.objectContaining({ id: job!.id, name: 'POST /orders', status: 'running' })])
    await vi.waitFor(() => expect(app.stats().requests.active).toBe(0))
    gate.resolve()
    expect(await ran.promise).toEqual({ outcome: undefined, id: 'req-7', group: undefined, aborted: false })
    expect(startedDuringHandler).toBe(false)
    await job
    expect(job!.status).toBe('fulfilled')
  })

  it('after() gets the ClientDisconnectedError when the client goes away, and is not cancelled by it', async () => {
    const outcome = deferred<unknown>()
    const release = deferred()
    const scheduled = deferred<{ job: BackgroundTask; group: TaskGroup }>()
    const app = await fw.start({
      routes: [
        {
          method: 'GET',
          path: '/stream',
          handler: (ctx) => {
            const job = ctx.after(async (signal, gone) => {
              outcome.resolve(gone)
              await release.promise
              return signal.aborted ? 'aborted' : 'audited'
            })
            scheduled.resolve({ job, group: ctx.taskGroup })
            return ctx.taskGroup.createTask(untilAborted)
          },
        },
      ],
    })
    const conn = await rawConnect(app.port)
    conn.write(rawHttpRequest({ path: '/stream' }))
    const { job, group } = await scheduled.promise
    expect(await promiseState(outcome.promise)).toBe('pending') // nothing ran before the end
    conn.destroy()
    await waitForAbort(group.signal)
    expect(await outcome.promise).toBeInstanceOf(ClientDisconnectedError)
    release.resolve()
    expect(await job).toBe('audited')
  })

  it('waitUntil() starts now and outlives a disconnect; a promise is accepted as well', async () => {
    const release = deferred()
    const scheduled = deferred<{ job: BackgroundTask; promiseJob: BackgroundTask; startedAt: 'now' | 'later'; group: TaskGroup }>()
    const app = await fw.start({
      routes: [
        {
          method: 'GET',
          path: '/refresh',
          handler: (ctx) => {
            let started = false
            const job = ctx.waitUntil(async (signal) => {
              started = true
              await release.promise
              return signal.aborted ? 'aborted' : 'refreshed'
            })
            const promiseJob = ctx.waitUntil(release.promise.then(() => 'from a promise'))
            scheduled.resolve({ job, promiseJob, startedAt: started ? 'now' : 'later', group: ctx.taskGroup })
            return ctx.taskGroup.createTask(untilAborted)
          },
        },
      ],
    })
    const conn = await rawConnect(app.port)
    conn.write(rawHttpRequest({ path: '/refresh' }))
    const { job, promiseJob, startedAt, group } = await scheduled.promise
    expect(startedAt).toBe('now')
    expect(job.name).toBe('GET /refresh')
    conn.destroy()
    await waitForAbort(group.signal)
    await vi.waitFor(() => expect(app.stats().requests.active).toBe(0))
    expect(job.status).toBe('running')
    release.resolve()
    expect(await job).toBe('refreshed')
    expect(await promiseJob).toBe('from a promise')
  })

  it("a failure is logged through the request's logger, never as an unhandled rejection", async () => {
    const app = await fw.start({
      routes: [
        {
          method: 'GET',
          path: '/fails-later',
          handler: (ctx) => {
            ctx.after(async () => {
              throw new Error('audit store down')
            })
            return 'ok'
          },
        },
      ],
    })
    expect((await request(app.url).get('/fails-later')).text).toBe('ok')
    await vi.waitFor(() => expect(app.logs.entries.some((e) => e.level === 'error' && e.text.includes('audit store down'))).toBe(true))
    const entry = app.logs.entries.find((e) => e.text.includes('audit store down'))!
    if (fw.name === 'fastify') expect(entry.text).toMatch(/"reqId":"req-\d+"/)
  })

  it('refuses a non-function (TypeError) and, once shutdown began, new work (ClosedError), at the call', async () => {
    const inHandler = deferred()
    const proceed = deferred()
    const drained = deferred()
    const errors: Record<string, unknown> = {}
    const app = await fw.start({
      routes: [
        {
          method: 'GET',
          path: '/slow',
          handler: async (ctx) => {
            try {
              ctx.after('audit' as never)
            } catch (error) {
              errors.type = error
            }
            const pending = ctx.after(async () => {
              await proceed.promise
              drained.resolve()
            })
            inHandler.resolve()
            await proceed.promise
            try {
              ctx.after(async () => {})
            } catch (error) {
              errors.closed = error
            }
            return { pending: pending.status }
          },
        },
      ],
    })
    const response = request(app.url)
      .get('/slow')
      .then((res) => res.body)
    await inHandler.promise
    const closing = app.close()
    await vi.waitFor(() => expect(app.stats().draining).toBe(true))
    proceed.resolve()
    expect(await response).toEqual({ pending: 'running' })
    await closing
    await drained.promise // the after() work scheduled before shutdown ran, and shutdown waited for it
    expect(errors.type).toMatchObject({ name: 'TypeError', code: 'ERR_INVALID_ARG_TYPE' })
    expect(errors.closed).toMatchObject({ name: 'ClosedError', code: 'ERR_CLOSED' })
  })
})

describe.each(frameworks)('$name: currentTaskGroup() and deadlines in a request', (fw) => {
  it("is the request's group in the handler and what it calls, also after a POST body was read", async () => {
    const app = await fw.start({
      routes: [
        {
          method: 'POST',
          path: '/deep',
          handler: async (ctx) => {
            const deep = await service()
            const inTask = await ctx.taskGroup.createTask(service)
            return { same: deep === ctx.taskGroup && inTask === ctx.taskGroup, closed: deep?.closed }
          },
        },
      ],
    })
    const res = await request(app.url)
      .post('/deep')
      .send({ big: 'x'.repeat(10_000) })
    expect(res.body).toEqual({ same: true, closed: false })
  })

  it("creates the request's group on first use, with the route's timeout as its deadline", async () => {
    const app = await fw.start({
      routes: [
        {
          method: 'GET',
          path: '/budget',
          concurrency: { timeout: 30_000 },
          handler: async () => {
            const before = Date.now()
            const group = await service()
            return { deadline: group!.deadline! - before, remaining: group!.remaining(), elapsed: Date.now() - before }
          },
        },
      ],
    })
    const { deadline, remaining, elapsed } = (await request(app.url).get('/budget')).body
    expect(deadline).toBeGreaterThanOrEqual(30_000)
    expect(deadline).toBeLessThanOrEqual(30_000 + elapsed)
    expect(remaining).toBeGreaterThan(29_000)
  })
})
