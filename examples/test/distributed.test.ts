// Distributed newsletter, on each store: start.mjs runs its own redis-server (or, with --store
// postgres, its own PostgreSQL server), two worker processes and a Fastify producer. A job added over HTTP completes on one of the workers; another is cancelled while it
// runs; SIGTERM stops every process and exits 0.

import { type NodeProcess as ExampleProcess, post, request } from '@taskscope/test-support'
import { afterEach, describe, expect, it } from 'vitest'
import { alive, runExample } from './helpers.ts'

let server: ExampleProcess | undefined

/** The pids start.mjs printed for its children (redis or postgres, worker-1, worker-2, producer). */
const childPids = (output: string): number[] =>
  [...output.matchAll(/^(?:redis|postgres|worker-\d|producer): pid (\d+)$/gm)].map((m) => Number(m[1]))

afterEach(async () => {
  if (server === undefined) return
  // When the test stopped before SIGTERM: start.mjs is killed, and its children with it, by pid.
  const pids = childPids(server.stdout)
  await server.close()
  for (const pid of pids) if (alive(pid)) process.kill(pid, 'SIGKILL')
  server = undefined
})

describe.each(['redis', 'postgres'])('distributed newsletter on %s (producer + two workers on BullMQ, child processes)', (store) => {
  // Four processes start and stop here: room for a slow CI machine.
  it('runs a job added over HTTP on a worker, cancels a running one, and stops everything on SIGTERM', { timeout: 60_000 }, async () => {
    server = runExample('distributed/start.mjs', { REDIS_URL: '', DATABASE_URL: '', STORE: store, QUEUE: `smoke-${process.pid}` })
    const [, url] = await server.waitFor(/producer listening on (http:\/\/[\d.:]+),/)
    await server.waitFor(/curl /)
    const pids = childPids(server.stdout)
    expect(pids).toHaveLength(4)

    const hello = await post(`${url}/newsletter`, { subject: 'Hello', recipients: 3, msPerEmail: 10 })
    expect(hello).toMatchObject({ status: 202, body: { status: 'queued' } })
    const done = await request(`${url}/jobs/${hello.body.id}/wait`)
    expect(done.body).toMatchObject({
      status: 'fulfilled',
      result: { subject: 'Hello', sent: 3, sentBy: expect.stringMatching(/^worker-[12]$/) },
    })
    await server.waitFor(new RegExp(`\\[${done.body.result.sentBy}\\] sent "Hello" to 3 subscribers`))
    expect((await request(`${url}/jobs/${hello.body.id}`)).body).toMatchObject({ status: 'fulfilled', attempts: 1 })

    const long = await post(`${url}/newsletter`, { subject: 'Long', recipients: 10_000, id: 'long-1' })
    expect(long).toMatchObject({ status: 202, body: { id: 'long-1', status: 'queued' } })
    const [, worker] = await server.waitFor(/\[(worker-[12])\] sending "Long"/)
    expect((await request(`${url}/jobs/long-1/cancel`, { method: 'POST' })).status).toBe(202)
    expect((await request(`${url}/jobs/long-1/wait`)).body).toMatchObject({
      status: 'cancelled',
      error: { name: 'CancelledError', code: 'ERR_CANCELLED' },
    })
    await server.waitFor(new RegExp(`\\[${worker}\\] stopped "Long" after \\d+ of 10000 emails \\(CancelledError: cancelled over HTTP\\)`))
    expect((await request(`${url}/jobs/long-1`)).body).toMatchObject({ status: 'cancelled', attempts: 1 })

    server.child.kill('SIGTERM')
    expect(await server.exited, `exit code; its output:\n${server.stdout}\n${server.stderr}`).toBe(0)
    expect(server.stdout).toMatch(/\[worker-1\] shut down: \{"completed":0/)
    expect(server.stdout).toMatch(/\[worker-2\] shut down: \{"completed":0/)
    expect(server.stderr).toBe('')
    expect(pids.filter(alive)).toEqual([])
  })
})
