// The PostgreSQL example: start.mjs runs its own PostgreSQL and a Fastify app whose report query
// runs on a cancellable pool. A finished report answers; an abandoned one stops on the server (the
// app sees its backend idle from another connection); SIGTERM stops everything and exits 0.
import { httpRequest, type NodeProcess, request } from '@taskscope/test-support'
import { afterEach, describe, expect, it } from 'vitest'
import { alive, runExample } from './helpers.ts'

let server: NodeProcess | undefined

afterEach(async () => {
  if (server === undefined) return
  const postgresPid = server.stdout.match(/^postgres: pid (\d+)$/m)?.[1]
  await server.close()
  if (postgresPid !== undefined && alive(Number(postgresPid))) process.kill(Number(postgresPid), 'SIGQUIT')
  server = undefined
})

describe('postgres example (its own PostgreSQL, a cancellable pool, Fastify)', () => {
  it('answers a report, stops an abandoned one on the server, and stops everything on SIGTERM', { timeout: 60_000 }, async () => {
    server = runExample('postgres/start.mjs', { DATABASE_URL: '' })
    const [, url] = await server.waitFor(/listening on (http:\/\/[\d.:]+),/)
    await server.waitFor(/curl /)
    const postgresPid = Number(server.stdout.match(/^postgres: pid (\d+)$/m)![1])

    const done = await request(`${url}/report?seconds=0.1`)
    expect(done.status).toBe(200)
    expect(done.body).toHaveProperty('finishedAt')

    const { port } = new URL(url)
    const abandoned = httpRequest(Number(port), { path: '/report?seconds=30' })
    const [, pid] = await server.waitFor(/report: query started on backend (\d+) \(pg_sleep\(30\)\)/)
    abandoned.req.destroy()
    await server.waitFor(
      new RegExp(`report: ClientDisconnectedError: query cancelled on the server after \\d+ ms; backend ${pid} is now idle`),
    )
    const activity = await request(`${url}/activity`)
    expect(activity.body).toContainEqual(expect.objectContaining({ pid: Number(pid), state: 'idle' }))

    server.child.kill('SIGTERM')
    expect(await server.exited, `exit code; its output:\n${server.stdout}\n${server.stderr}`).toBe(0)
    expect(server.stderr).toBe('')
    expect(alive(postgresPid)).toBe(false)
  })
})
