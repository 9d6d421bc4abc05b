// Task manager, in Fastify, Express and Koa: POST starts a named background job, GET waits for
// it on an AsyncEvent, DELETE cancels it, GET /tasks lists them.

import { cleanup, closeLater, post, request } from '@taskscope/test-support'
import { afterEach, describe, expect, it } from 'vitest'
import { example, type Started } from './helpers.ts'

afterEach(cleanup)

describe.each(['fastify', 'express', 'koa'])('task manager (%s)', (framework) => {
  async function startApp(): Promise<string> {
    const { start } = await example(`task-manager/${framework}.mjs`)
    const server: Started = closeLater(await start({ port: 0, stepMs: 1 }))
    return server.url
  }

  it('starts a job, and GET /tasks/:id waits until it has completed', async () => {
    const url = await startApp()
    const started = await post(`${url}/tasks`, { name: 'quick', steps: 3 })
    expect(started.status).toBe(202)
    expect(started.body).toMatchObject({ name: 'quick', status: 'running', steps: 3 })
    expect(started.headers.get('location')).toBe(`/tasks/${started.body.id}`)

    const done = await request(`${url}/tasks/${started.body.id}`)
    expect(done.status).toBe(200)
    expect(done.body).toMatchObject({ id: started.body.id, status: 'completed', progress: 3, result: 'quick: 3 steps done' })
  })

  it('cancels a running job: a waiting GET then sees it cancelled; the listing shows every status', async () => {
    const url = await startApp()
    const quick = await post(`${url}/tasks`, { name: 'quick', steps: 1 })
    await request(`${url}/tasks/${quick.body.id}`)
    const long = await post(`${url}/tasks`, { name: 'long', steps: 100_000 })
    const id = long.body.id

    const stillRunning = await request(`${url}/tasks/${id}?timeout=0`)
    expect(stillRunning.status).toBe(202)
    expect(stillRunning.body.status).toBe('running')

    const waiting = request(`${url}/tasks/${id}`) // waits on the task's AsyncEvent
    const cancelled = await request(`${url}/tasks/${id}`, { method: 'DELETE' })
    expect(cancelled.status).toBe(200)
    expect(cancelled.body).toMatchObject({ id, status: 'cancelled' })
    expect((await waiting).body).toMatchObject({ id, status: 'cancelled' })
    expect((await request(`${url}/tasks/${id}`, { method: 'DELETE' })).status).toBe(409)

    const listing = await request(`${url}/tasks`)
    expect(listing.body.active).toBe(0)
    expect(listing.body.tasks.map((t: { name: string; status: string }) => [t.name, t.status])).toEqual([
      ['quick', 'completed'],
      ['long', 'cancelled'],
    ])
  })

  it('answers 404 for an unknown task and 400 for a task without a name', async () => {
    const url = await startApp()
    expect((await request(`${url}/tasks/nope`)).status).toBe(404)
    expect((await request(`${url}/tasks/nope`, { method: 'DELETE' })).status).toBe(404)
    expect((await post(`${url}/tasks`, { steps: 2 })).status).toBe(400)
  })
})
