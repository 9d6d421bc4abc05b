// Matrix row 10: the seed's handler shapes, through each adapter.
//  - parallel fetches in the request's task group against a local upstream (three calls in parallel,
//    results combined), and the same fan-out cancelled by a client disconnect (upstream sees it);
//  - `threadpool.run` / `runInThreadpool` of a CPU function from a handler, and a pool task bound to
//    the request's signal cancelled by a disconnect;
//  - a background job started by POST, with status routes (GET /jobs/:id, GET /jobs).
import type http from 'node:http'
import type { BackgroundTask, TaskGroup } from '@taskscope/core'
import { isCancellation, runInThreadpool } from '@taskscope/core'
import {
  cleanup,
  codeOf,
  type Deferred,
  deferred,
  rawConnect,
  rawHttpRequest,
  spinForever,
  sumTo,
  waitForAbort,
} from '@taskscope/test-support'
import request from 'supertest'
import { afterEach, describe, expect, it, vi } from 'vitest'
import { frameworks, startUpstream } from './helpers/servers.ts'

afterEach(cleanup)

const PARTS = ['user', 'orders', 'recommendations'] as const

/**
 * An upstream that answers nothing until all three parts are requested at the same time — the
 * fan-out can only succeed if the handler really runs the calls in parallel. `hold: true` never
 * answers; each request's `gone` resolves when its caller goes away before an answer.
 */
async function parallelUpstream({ hold = false } = {}) {
  const pending: { part: string; res: http.ServerResponse }[] = []
  const gone = new Map<string, Deferred<void>>(PARTS.map((p) => [p, deferred()]))
  const allArrived = deferred()
  const upstream = await startUpstream((req, res) => {
    const part = (req.url ?? '').slice(1)
    res.once('close', () => {
      if (!res.writableEnded) gone.get(part)?.resolve()
    })
    pending.push({ part, res })
    if (pending.length < PARTS.length) return
    allArrived.resolve()
    if (hold) return
    for (const { part: p, res: r } of pending.splice(0)) {
      r.setHeader('content-type', 'application/json')
      r.end(JSON.stringify({ part: p, value: p.length }))
    }
  })
  return { ...upstream, gone, allArrived }
}

const fanOut =
  (upstreamUrl: string) =>
  async ({ taskGroup }: { taskGroup: TaskGroup }) => {
    const results = await Promise.all(
      PARTS.map((part) =>
        taskGroup.createTask(
          async (signal) => {
            const res = await fetch(`${upstreamUrl}/${part}`, { signal })
            return (await res.json()) as { part: string; value: number }
          },
          { name: part },
        ),
      ),
    )
    return Object.fromEntries(results.map((r) => [r.part, r.value]))
  }

describe.each(frameworks)('$name: seed handlers', (fw) => {
  it('fans out three upstream calls in parallel in the request group and combines the results', async () => {
    const upstream = await parallelUpstream()
    const app = await fw.start({ routes: [{ method: 'GET', path: '/dashboard', handler: fanOut(upstream.url) }] })
    const res = await request(app.url).get('/dashboard')
    expect(res.status).toBe(200)
    expect(res.body).toEqual({ user: 4, orders: 6, recommendations: 15 })
    await vi.waitFor(() => expect(app.stats().requests.active).toBe(0))
  })

  it('a client disconnect during the fan-out cancels all three upstream calls', async () => {
    const upstream = await parallelUpstream({ hold: true })
    const handlerError = deferred<unknown>()
    const route = fanOut(upstream.url)
    const app = await fw.start({
      routes: [
        {
          method: 'GET',
          path: '/dashboard',
          handler: async (ctx) => {
            try {
              return await route(ctx)
            } catch (error) {
              handlerError.resolve(error)
              throw error
            }
          },
        },
      ],
    })
    const conn = await rawConnect(app.port)
    conn.write(rawHttpRequest({ path: '/dashboard' }))
    await upstream.allArrived.promise
    conn.destroy()
    // fetch() got the group's signal: each upstream request is abandoned.
    await Promise.all([...upstream.gone.values()].map((d) => d.promise))
    expect(isCancellation(await handlerError.promise)).toBe(true)
    await vi.waitFor(() => expect(app.stats().requests.active).toBe(0))
  })

  it('runs a CPU function on the pool: threadpool.run and runInThreadpool', async () => {
    const app = await fw.start({
      routes: [
        {
          method: 'GET',
          path: '/cpu/:n',
          handler: async ({ threadpool, params }) => {
            const n = Number(params.n)
            const [viaPool, viaShared] = await Promise.all([threadpool.run(sumTo, [n]), runInThreadpool(sumTo, n)])
            return { viaPool, viaShared }
          },
        },
      ],
    })
    const res = await request(app.url).get('/cpu/100000')
    expect(res.status).toBe(200)
    expect(res.body).toEqual({ viaPool: 5_000_050_000, viaShared: 5_000_050_000 })
    expect(app.stats().pool.completed).toBeGreaterThanOrEqual(1)
  })

  it('a pool task bound to the request signal is cancelled when the client disconnects', async () => {
    const submitted = deferred<TaskGroup>()
    const poolError = deferred<unknown>()
    const app = await fw.start({
      routes: [
        {
          method: 'GET',
          path: '/spin',
          handler: async ({ threadpool, taskGroup }) => {
            const run = threadpool.run(spinForever, [], { signal: taskGroup.signal })
            submitted.resolve(taskGroup)
            try {
              return await run
            } catch (error) {
              poolError.resolve(error)
              throw error
            }
          },
        },
      ],
    })
    const conn = await rawConnect(app.port)
    conn.write(rawHttpRequest({ path: '/spin' }))
    const group = await submitted.promise
    conn.destroy()
    expect(codeOf(await waitForAbort(group.signal))).toBe('ERR_CLIENT_CLOSED_REQUEST')
    const error = await poolError.promise
    expect(isCancellation(error)).toBe(true)
    // The pool is still usable afterwards (the spinning worker was replaced).
    expect(await app.threadpool.run(sumTo, [10])).toBe(55)
  })

  it('starts a background job by POST and reports it through status routes', async () => {
    const gates = new Map<string, Deferred<void>>()
    const tasks = new Map<string, BackgroundTask>()
    const app = await fw.start({
      routes: [
        {
          method: 'POST',
          path: '/jobs',
          handler: ({ backgroundTasks, body, status }) => {
            const { n } = body as { n: number }
            const gate = deferred()
            const job = backgroundTasks.add(
              async (signal) => {
                await gate.promise
                signal.throwIfAborted()
                return n * 2
              },
              { name: `double-${n}` },
            )
            gates.set(job.id, gate)
            tasks.set(job.id, job)
            status(202)
            return { id: job.id, status: job.status }
          },
        },
        {
          method: 'GET',
          path: '/jobs/:id',
          handler: ({ backgroundTasks, params, status }) => {
            const job = backgroundTasks.get(params.id!)
            if (job === undefined) {
              status(404)
              return { id: params.id, status: 'unknown' }
            }
            return { id: job.id, name: job.name, status: job.status }
          },
        },
        {
          method: 'GET',
          path: '/jobs',
          handler: ({ backgroundTasks }) => backgroundTasks.list().map(({ id, name, status }) => ({ id, name, status })),
        },
      ],
    })

    const created = await request(app.url).post('/jobs').send({ n: 21 })
    expect(created.status).toBe(202)
    const { id } = created.body as { id: string }
    expect(created.body).toEqual({ id, status: 'running' })
    expect(typeof id).toBe('string')

    // The request that started it is over; the job runs on.
    const running = await request(app.url).get(`/jobs/${id}`)
    expect(running.status).toBe(200)
    expect(running.body).toEqual({ id, name: 'double-21', status: 'running' })
    const list = await request(app.url).get('/jobs')
    expect(list.body).toContainEqual({ id, name: 'double-21', status: 'running' })

    gates.get(id)!.resolve()
    expect(await tasks.get(id)!).toBe(42)
    expect(tasks.get(id)!.status).toBe('fulfilled')

    const finished = await request(app.url).get(`/jobs/${id}`)
    // Finished tasks leave list() but get(id) still finds them (a bounded history).
    expect(finished.status).toBe(200)
    expect(finished.body).toEqual({ id, name: 'double-21', status: 'fulfilled' })
    const emptyList = await request(app.url).get('/jobs')
    expect(emptyList.body).toEqual([])
  })
})
