// Matrix row 7: background tasks outlive the request. A handler adds a task to the app-level
// registry and responds; the request completes (or the client even disconnects); the task's signal
// is not aborted and the task completes later, when the test lets it.
import type { BackgroundTask, TaskGroup } from '@taskscope/core'
import { cleanup, codeOf, deferred, rawConnect, rawHttpRequest, untilAborted, waitForAbort } from '@taskscope/test-support'
import request from 'supertest'
import { afterEach, describe, expect, it, vi } from 'vitest'
import { frameworks } from './helpers/servers.ts'

afterEach(cleanup)

describe.each(frameworks)('$name: background tasks', (fw) => {
  it('a task added by a handler keeps running after the response and completes later', async () => {
    const release = deferred<string>()
    const requestGroup = deferred<TaskGroup>()
    let job: BackgroundTask | undefined
    let sameRegistry: boolean | undefined
    const app = await fw.start({
      routes: [
        {
          method: 'POST',
          path: '/reports',
          handler: ({ backgroundTasks, taskGroup, body }) => {
            requestGroup.resolve(taskGroup)
            job = backgroundTasks.add(
              async (signal) => {
                const value = await release.promise
                return { value, abortedWhileRunning: signal.aborted, body }
              },
              { name: 'build-report' },
            )
            sameRegistry = backgroundTasks === app.backgroundTasks
            return { id: job.id, status: job.status }
          },
        },
      ],
    })

    const res = await request(app.url).post('/reports').send({ month: '2026-05' })
    expect(res.status).toBe(200)
    expect(res.body).toEqual({ id: job!.id, status: 'running' })
    expect(sameRegistry).toBe(true) // the per-request accessor is the app-level registry

    // The request is over: its group was finished...
    await vi.waitFor(() => expect(app.stats().requests.active).toBe(0))
    const group = await requestGroup.promise
    expect(codeOf(group.signal.reason)).not.toBe('ERR_CLIENT_CLOSED_REQUEST')
    // ...but the background task is untouched and still listed.
    expect(job!.signal.aborted).toBe(false)
    expect(job!.status).toBe('running')
    expect(job!.name).toBe('build-report')
    expect(app.backgroundTasks.get(job!.id)).toBe(job)
    expect(app.backgroundTasks.list().map((info) => info.id)).toContain(job!.id)
    expect(app.backgroundTasks.active).toBeGreaterThanOrEqual(1)

    release.resolve('done')
    await expect(job!).resolves.toEqual({ value: 'done', abortedWhileRunning: false, body: { month: '2026-05' } })
    expect(job!.status).toBe('fulfilled')
    expect(app.backgroundTasks.list().map((info) => info.id)).not.toContain(job!.id) // finished tasks leave list()
    expect(app.backgroundTasks.get(job!.id)).toBe(job) // and stay in get(id)'s bounded history
  })

  it('a client disconnect aborts the request group but not the background task it started', async () => {
    const release = deferred()
    const added = deferred<{ job: BackgroundTask; group: TaskGroup }>()
    const app = await fw.start({
      routes: [
        {
          method: 'POST',
          path: '/import',
          handler: ({ backgroundTasks, taskGroup }) => {
            const job = backgroundTasks.add(
              async (signal) => {
                await release.promise
                return signal.aborted ? 'aborted' : 'imported'
              },
              { name: 'import' },
            )
            added.resolve({ job, group: taskGroup })
            return taskGroup.createTask(untilAborted) // the request waits until the client leaves
          },
        },
      ],
    })
    const conn = await rawConnect(app.port)
    conn.write(rawHttpRequest({ method: 'POST', path: '/import', body: { file: 'a.csv' } }))
    const { job, group } = await added.promise
    conn.destroy()
    expect(codeOf(await waitForAbort(group.signal))).toBe('ERR_CLIENT_CLOSED_REQUEST')
    await vi.waitFor(() => expect(app.stats().requests.active).toBe(0))

    expect(job.signal.aborted).toBe(false)
    expect(job.status).toBe('running')
    release.resolve()
    expect(await job).toBe('imported')
    expect(job.status).toBe('fulfilled')
  })
})
