// Cancellation that reaches outbound HTTP, over real sockets on every adapter: with
// cancellationInterceptor() composed onto the global dispatcher, a handler's plain `fetch()` (no
// signal passed) stops when its client disconnects, a race's loser and a cancelled task close
// their own upstream connection while the rest go on, and background, after() and waitUntil()
// work, and work inside shield(), is never cancelled by the request's end. The upstream is a real
// server that sees its connection close.
import { type BackgroundTask, cancellationInterceptor, firstSuccessful, shield, type TaskGroup } from '@taskscope/core'
import { cleanup, deferred, rawConnect, rawHttpRequest, startUpstream, untilAborted, waitForAbort } from '@taskscope/test-support'
import { getGlobalDispatcher, setGlobalDispatcher } from 'undici'
import { afterAll, afterEach, describe, expect, it } from 'vitest'
import { frameworks, roundTrip } from './helpers/servers.ts'

const original = getGlobalDispatcher()
setGlobalDispatcher(original.compose(cancellationInterceptor()))
afterAll(() => setGlobalDispatcher(original))
afterEach(cleanup)

describe.each(frameworks)('$name: outbound fetch follows the request', (fw) => {
  it("a handler's fetch is aborted when the client disconnects: the upstream sees its connection close", async () => {
    const upstream = await startUpstream()
    const failure = deferred<unknown>()
    const app = await fw.start({
      routes: [
        {
          method: 'GET',
          path: '/report',
          handler: async () => {
            try {
              const response = await fetch(`${upstream.url}/hold/report`)
              return await response.text()
            } catch (error) {
              failure.resolve(error)
              throw error
            }
          },
        },
      ],
    })
    const conn = await rawConnect(app.port)
    conn.write(rawHttpRequest({ path: '/report' }))
    await upstream.call('report').arrived
    conn.destroy()
    await upstream.call('report').closed
    const error = (await failure.promise) as Error
    expect(error.cause).toMatchObject({ code: 'ERR_CLIENT_CLOSED_REQUEST' })
    await roundTrip(app)
    expect(app.logs.loudCancellations()).toEqual([])
  })

  it("a firstSuccessful loser's fetch closes while the winner's response goes on to the client", async () => {
    const upstream = await startUpstream()
    const app = await fw.start({
      routes: [
        {
          method: 'GET',
          path: '/search',
          handler: async () => {
            const winner = await firstSuccessful([
              () => fetch(`${upstream.url}/headers-then-hold/primary`),
              () => fetch(`${upstream.url}/hold/backup`),
            ])
            await upstream.call('backup').closed
            upstream.call('primary').finish('rest of the body')
            return await winner.text()
          },
        },
      ],
    })
    const res = await fetch(`${app.url}/search`)
    expect(await res.text()).toBe('first chunk;rest of the body')
    expect(upstream.call('backup').isClosed).toBe(true)
    expect(upstream.call('primary').isClosed).toBe(false)
  })

  it("task.cancel() aborts only that task's fetch", async () => {
    const upstream = await startUpstream()
    const app = await fw.start({
      routes: [
        {
          method: 'GET',
          path: '/two',
          handler: async (ctx) => {
            const one = ctx.taskGroup.createTask(() => fetch(`${upstream.url}/hold/one`))
            const two = ctx.taskGroup.createTask(async () => (await fetch(`${upstream.url}/headers-then-hold/two`)).text())
            await Promise.all([upstream.call('one').arrived, upstream.call('two').arrived])
            one.cancel()
            await upstream.call('one').closed
            upstream.call('two').finish('done')
            const [first, second] = await Promise.allSettled([one, two])
            return {
              one: first.status === 'rejected' ? one.status : 'fulfilled',
              two: second.status === 'fulfilled' ? second.value : 'failed',
            }
          },
        },
      ],
    })
    const res = await fetch(`${app.url}/two`)
    expect(await res.json()).toEqual({ one: 'cancelled', two: 'first chunk;done' })
    expect(upstream.call('two').isClosed).toBe(false)
  })

  it("background tasks, after() and waitUntil() keep their fetch when the request ends; shield() protects the handler's", async () => {
    const upstream = await startUpstream()
    const scheduled = deferred<{ jobs: BackgroundTask<string>[]; shielded: { done: Promise<string> }; group: TaskGroup }>()
    const body = async (id: string): Promise<string> => (await fetch(`${upstream.url}/headers-then-hold/${id}`)).text()
    const app = await fw.start({
      routes: [
        {
          method: 'GET',
          path: '/work',
          handler: (ctx) => {
            const jobs = [
              ctx.backgroundTasks.add(() => body('background')),
              ctx.waitUntil(() => body('wait-until')),
              ctx.after(() => body('after')),
            ] as BackgroundTask<string>[]
            const shielded = { done: shield(() => body('shielded')) }
            scheduled.resolve({ jobs, shielded, group: ctx.taskGroup })
            return ctx.taskGroup.createTask(untilAborted)
          },
        },
      ],
    })
    const conn = await rawConnect(app.port)
    conn.write(rawHttpRequest({ path: '/work' }))
    const { jobs, shielded, group } = await scheduled.promise
    await Promise.all(['background', 'wait-until', 'shielded'].map((id) => upstream.call(id).arrived))
    conn.destroy()
    await waitForAbort(group.signal)
    await upstream.call('after').arrived // after() starts once the client has gone
    await roundTrip(app)
    for (const id of ['background', 'wait-until', 'after', 'shielded']) {
      expect(upstream.call(id).isClosed, id).toBe(false)
      upstream.call(id).finish(` ${id} done`)
    }
    expect(await Promise.all(jobs)).toEqual(['first chunk; background done', 'first chunk; wait-until done', 'first chunk; after done'])
    expect(await shielded.done).toBe('first chunk; shielded done')
  })
})
