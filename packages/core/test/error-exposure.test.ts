// What a client sees when an error taskscope creates escapes a handler, in a framework that honours
// `expose` (Koa, with no taskscope adapter: its own default error handling). Real server on 127.0.0.1.
import { createServer, type Server } from 'node:http'
import { TaskGroup, Threadpool } from '@taskscope/core'
import { closeServer, listenOnLoopback, poolsForEachTest } from '@taskscope/test-support'
import Koa from 'koa'
import { afterEach, describe, expect, it } from 'vitest'

const pool = poolsForEachTest()
const servers: Server[] = []
afterEach(async () => {
  await Promise.all(servers.splice(0).map(closeServer))
})

/** Serves `handler` with plain Koa; resolves with a GET of `/` as `{ status, body }`. */
async function koaAnswer(handler: () => Promise<unknown>): Promise<{ status: number; body: string }> {
  const app = new Koa()
  app.silent = true // Koa's default app.onerror would print each 5xx
  app.use(async (ctx) => {
    ctx.body = await handler()
  })
  const server = createServer(app.callback())
  servers.push(server)
  const port = await listenOnLoopback(server)
  const response = await fetch(`http://127.0.0.1:${port}/`)
  return { status: response.status, body: await response.text() }
}

describe('errors taskscope creates do not expose their message where a framework honours `expose`', () => {
  it('WorkerCrashedError: 500 with the status text, not the task name or cause', async () => {
    const p = pool()
    const answer = await koaAnswer(() =>
      p.run(function secretTask() {
        process.exit(3)
      }, []),
    )
    expect(answer).toEqual({ status: 500, body: 'Internal Server Error' })
  })

  it('TaskGroupError: 500 with the status text, not the failing tasks and their messages', async () => {
    const answer = await koaAnswer(() =>
      TaskGroup.run((group) => {
        group.createTask(async function loadSecrets() {
          throw new Error('password authentication failed for user "admin"')
        })
      }),
    )
    expect(answer).toEqual({ status: 500, body: 'Internal Server Error' })
  })

  it('TimeoutError: 504 with the status text, not the group name and deadline', async () => {
    const answer = await koaAnswer(() =>
      TaskGroup.run((group) => new Promise((_, reject) => group.signal.addEventListener('abort', () => reject(group.signal.reason))), {
        timeout: 1,
        name: 'internal-report-builder',
      }),
    )
    expect(answer).toEqual({ status: 504, body: 'Gateway Timeout' })
  })

  it('ClosedError: 503 with the status text', async () => {
    const closed = new Threadpool({ maxThreads: 1, minThreads: 0 })
    await closed.close()
    const answer = await koaAnswer(() => closed.run((x: number) => x, [1]))
    expect(answer).toEqual({ status: 503, body: 'Service Unavailable' })
  })

  it('an error your own worker code throws keeps its own `expose`: a 400 you made shows its message, a plain Error does not', async () => {
    const p = pool()
    const badInput = await koaAnswer(() =>
      p.run(function validate() {
        throw Object.assign(new Error('"width" must be at most 4000'), { status: 400, expose: true })
      }, []),
    )
    expect(badInput).toEqual({ status: 400, body: '"width" must be at most 4000' })
    const plain = await koaAnswer(() =>
      p.run(function compute() {
        throw new Error('internal detail')
      }, []),
    )
    expect(plain).toEqual({ status: 500, body: 'Internal Server Error' })
  })
})
