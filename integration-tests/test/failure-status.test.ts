// H11: a cancellation that escapes a handler is answered for its cause. When the request's tasks
// were cancelled because one of them failed, the request fails with that failure through the
// framework's own error path (Fastify's error handler; Express's next(err), past c.errorHandler(),
// to the app's error middleware; Koa's throw and app.on('error')): 500, or the failure's own
// statusCode; logged once, at error; never 499, never a second "nobody awaited" line. A group
// timeout answers 504. Real sockets, on all three adapters.
import { setTimeout as sleep } from 'node:timers/promises'
import { TaskGroup } from '@taskscope/core'
import { cleanup, untilAborted } from '@taskscope/test-support'
import request from 'supertest'
import { afterEach, describe, expect, it } from 'vitest'
import { frameworks, type Handler, roundTrip, type StartedApp } from './helpers/servers.ts'

afterEach(cleanup)

const MESSAGE = 'feed service is down'

/** The work of the README's idiom: a slow task that stops on its signal, and one that fails soon. */
const user = (signal: AbortSignal): Promise<string> => sleep(500, 'user', { signal })
const feedFor = (status: string) => async (): Promise<never> => {
  await sleep(30)
  throw Object.assign(new Error(MESSAGE), status === '502' ? { statusCode: 502 } : {})
}

const handlers: Record<string, (status: string) => Handler> = {
  // The README's idiom: `feed` fails while the handler awaits `user`.
  sequential:
    (status) =>
    async ({ taskGroup }) => {
      const u = taskGroup.createTask(user)
      const f = taskGroup.createTask(feedFor(status))
      return { user: await u, feed: await f }
    },
  'promise-all':
    (status) =>
    async ({ taskGroup }) => {
      const [u, f] = await Promise.all([taskGroup.createTask(user), taskGroup.createTask(feedFor(status))])
      return { user: u, feed: f }
    },
  // The handler waits on the group's own signal (not a task): the AbortError it throws carries the cause.
  'group-signal':
    (status) =>
    async ({ taskGroup }) => {
      taskGroup.createTask(feedFor(status))
      await sleep(500, undefined, { signal: taskGroup.signal })
      return 'unreachable'
    },
  close:
    (status) =>
    async ({ taskGroup }) => {
      taskGroup.createTask(user)
      taskGroup.createTask(feedFor(status))
      await taskGroup.close()
      return 'unreachable'
    },
  run: (status) => async () =>
    TaskGroup.run(async (group) => {
      const u = group.createTask(user)
      const f = group.createTask(feedFor(status))
      return { user: await u, feed: await f }
    }),
  child:
    (status) =>
    async ({ taskGroup }) => {
      const child = taskGroup.child({ name: 'feeds' })
      const u = child.createTask(user)
      const f = child.createTask(feedFor(status))
      return { user: await u, feed: await f }
    },
  'child-close':
    (status) =>
    async ({ taskGroup }) => {
      const child = taskGroup.child({ name: 'feeds' })
      child.createTask(user)
      child.createTask(feedFor(status))
      await child.close()
      return 'unreachable'
    },
  // A supervisor: the failure cancels nothing; the handler awaits it and it escapes as itself.
  'fail-fast-false':
    (status) =>
    async ({ taskGroup }) => {
      const child = taskGroup.child({ failFast: false })
      const u = child.createTask(() => sleep(5, 'user'))
      const f = child.createTask(feedFor(status))
      return { user: await u, feed: await f }
    },
}

/** Every request group of the app has ended (its failures reported): bounded, by turns of the event loop. */
async function requestsEnded(app: StartedApp): Promise<void> {
  for (let turn = 0; turn < 10_000 && app.stats().requests.active > 0; turn++) await new Promise((resolve) => setImmediate(resolve))
  expect(app.stats().requests.active).toBe(0)
  await roundTrip(app)
}

describe.each(frameworks)('$name: a cancellation caused by a task failure answers the failure (H11)', (fw) => {
  const routes = Object.entries(handlers).map(([name, make]) => ({
    method: 'GET' as const,
    path: `/${name}/:status`,
    handler: (ctx: Parameters<Handler>[0]) => make(ctx.params.status!)(ctx),
  }))

  it.each(Object.keys(handlers).flatMap((name) => [[name, '500'] as const, [name, '502'] as const]))(
    '%s, the failure answering %s',
    async (name, status) => {
      const app = await fw.start({ routes })
      const res = await request(app.url).get(`/${name}/${status}`)
      expect(res.status).toBe(Number(status))
      await requestsEnded(app)
      // Logged once, at error, by the framework's error path; no second "nobody awaited them" line.
      const lines = app.logs.entries.filter((e) => e.text.includes(MESSAGE))
      expect(lines.filter((e) => e.level === 'error')).toHaveLength(1)
      expect(app.logs.entries.filter((e) => e.text.includes('nobody awaited'))).toEqual([])
      if (fw.name === 'fastify') expect(lines.find((e) => e.level === 'error')!.text).toMatch(/"reqId":"req-/)
    },
  )

  it('a failure in a task nobody awaits, after the handler answered, is logged once as unobserved', async () => {
    const app = await fw.start({
      routes: [
        {
          method: 'GET',
          path: '/later',
          handler: ({ taskGroup }) => {
            taskGroup.createTask(feedFor('500'))
            return 'ok'
          },
        },
      ],
    })
    // Nobody can be answered with it any more: the group's report is its one line.
    expect((await request(app.url).get('/later')).status).toBe(200)
    await requestsEnded(app)
    expect(app.logs.entries.filter((e) => e.level === 'error' && e.text.includes(MESSAGE))).toHaveLength(1)
  })

  it('a group timeout answers 504, at info or below', async () => {
    const app = await fw.start({
      routes: [
        {
          method: 'GET',
          path: '/slow',
          concurrency: { timeout: 30 },
          handler: async ({ taskGroup }) => taskGroup.createTask((signal) => untilAborted(signal)),
        },
      ],
    })
    expect((await request(app.url).get('/slow')).status).toBe(504)
    await requestsEnded(app)
    expect(app.logs.entries.filter((e) => e.level === 'error' || e.level === 'fatal')).toEqual([])
  })
})

/** Values whose `then` cannot be read: a revoked Proxy (an Immer draft after produce()), a throwing getter, a throwing get trap. */
const unreadable: Record<string, () => unknown> = {
  'revoked-proxy': () => {
    const { proxy, revoke } = Proxy.revocable({}, {})
    revoke()
    return proxy
  },
  'then-getter': () =>
    Object.defineProperty({}, 'then', {
      get() {
        throw new Error('then getter')
      },
    }),
  'get-trap': () =>
    new Proxy(
      {},
      {
        get() {
          throw new Error('get trap')
        },
      },
    ),
}

describe.each(frameworks)('$name: tasks whose result cannot be resolved still end (no group left behind)', (fw) => {
  it.each(Object.keys(unreadable))(
    '%s: awaited, the request fails (500); not awaited, it is reported; 20 requests leave no group',
    async (kind) => {
      const app = await fw.start({
        routes: [
          { method: 'GET', path: '/awaited', handler: async ({ taskGroup }) => taskGroup.createTask(unreadable[kind]!) },
          {
            method: 'GET',
            path: '/dropped',
            handler: ({ taskGroup }) => {
              taskGroup.createTask(unreadable[kind]!)
              return 'ok'
            },
          },
        ],
      })
      for (let i = 0; i < 10; i++) {
        expect((await request(app.url).get('/awaited')).status).toBe(500)
        expect((await request(app.url).get('/dropped')).status).toBe(200)
      }
      await requestsEnded(app) // nothing left for shutdown to wait for
      // Each failure logged once: 10 by the framework's error path, 10 as failures nobody awaited.
      expect(app.logs.entries.filter((e) => e.level === 'error')).toHaveLength(20)
    },
  )
})
