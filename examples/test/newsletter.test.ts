// Newsletter: POST starts an app-lifetime background job that outlives the request; a status
// route counts the active jobs.

import { cleanup, closeLater, deferred, post, request } from '@taskscope/test-support'
import { afterEach, describe, expect, it } from 'vitest'
import { example, type Started } from './helpers.ts'

afterEach(cleanup)

describe('newsletter (Fastify)', () => {
  it('answers 202 at once, sends in the background, and counts the active jobs', async () => {
    const gate = deferred()
    const sentTo: string[] = []
    const send = async (recipient: string) => {
      await gate.promise // every email waits until the test opens the gate
      sentTo.push(recipient)
    }
    const { start } = await example('newsletter/fastify.mjs')
    const server: Started = closeLater(await start({ port: 0, send }))

    const started = await post(`${server.url}/newsletter`, { subject: 'Hello', recipients: 3 })
    expect(started.status).toBe(202)
    expect(started.body).toMatchObject({ name: 'newsletter: Hello', recipients: 3 })

    // The request has completed, the job still runs.
    const running = await request(`${server.url}/newsletter/status`)
    expect(running.body).toMatchObject({
      active: 1,
      sent: 0,
      jobs: [{ id: started.body.id, name: 'newsletter: Hello', status: 'running' }],
    })

    const job = server.app.backgroundTasks.get(started.body.id)
    gate.resolve()
    await expect(job).resolves.toBe(3)
    expect(sentTo).toEqual(['subscriber-1@example.com', 'subscriber-2@example.com', 'subscriber-3@example.com'])
    expect((await request(`${server.url}/newsletter/status`)).body).toEqual({ active: 0, sent: 3, jobs: [] })
  })

  it('rejects a newsletter without a subject', async () => {
    const { start } = await example('newsletter/fastify.mjs')
    const server: Started = closeLater(await start({ port: 0 }))
    expect((await post(`${server.url}/newsletter`, { recipients: 3 })).status).toBe(400)
  })

  it('on shutdown, lets a running job finish', async () => {
    const gate = deferred()
    const { start } = await example('newsletter/fastify.mjs')
    const server: Started = await start({ port: 0, send: () => gate.promise })
    const { body } = await post(`${server.url}/newsletter`, { subject: 'Bye', recipients: 2 })
    const job = server.app.backgroundTasks.get(body.id)
    const closed = server.close()
    gate.resolve()
    await closed
    expect(job.status).toBe('fulfilled')
  })
})
