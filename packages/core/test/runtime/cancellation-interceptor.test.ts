// cancellationInterceptor(): outbound HTTP made under a currentSignal() stops when it aborts; the
// upstream (a real server) sees its connection close. Node's global fetch goes through the global
// dispatcher the interceptor is composed onto; undici's own request()/fetch() through an Agent.
import { getEventListeners } from 'node:events'
import { fileURLToPath } from 'node:url'
import { CancelledError, cancellationInterceptor, createBackgroundTask, isCancellation, shield, TaskGroup } from '@taskscope/core'
import { cleanup, collectWarnings, deferred, rejectionOf, runNode, startUpstream, untilAborted } from '@taskscope/test-support'
import { Agent, getGlobalDispatcher, request, setGlobalDispatcher, fetch as undiciFetch } from 'undici'
import { afterAll, afterEach, describe, expect, it } from 'vitest'

const original = getGlobalDispatcher()
setGlobalDispatcher(original.compose(cancellationInterceptor()))
afterAll(() => setGlobalDispatcher(original))
afterEach(cleanup)

/** Reads a fetch Response's body to the end (rejects if the body is cut). */
async function drain(response: Response): Promise<string> {
  return response.text()
}

describe('cancellationInterceptor() with Node’s global fetch', () => {
  it('task.cancel() closes the upstream connection mid-body; the fetch fails with the cancellation as its cause', async () => {
    const upstream = await startUpstream()
    await using group = new TaskGroup()
    const holding: Response[] = [] // keep the Response referenced: a collected one closes by itself
    const headers = deferred()
    const bodyError = deferred<unknown>()
    const task = group.createTask(async () => {
      const response = await fetch(`${upstream.url}/headers-then-hold/body`)
      holding.push(response)
      headers.resolve()
      return drain(response).catch((error: unknown) => {
        bodyError.resolve(error)
        throw error
      })
    })
    await headers.promise
    task.cancel(new Error('no longer needed'))
    await upstream.call('body').closed
    const error = await rejectionOf(task)
    expect(error).toBeInstanceOf(CancelledError)
    expect(error.cause).toEqual(new Error('no longer needed'))
    expect(task.status).toBe('cancelled')
    const cut = (await bodyError.promise) as TypeError
    expect(cut).toBeInstanceOf(TypeError)
    expect(cut.cause).toBe(error)
    expect(holding).toHaveLength(1)
  })

  it('before the headers: fetch rejects with a TypeError whose cause is the CancelledError (isCancellation says so)', async () => {
    const upstream = await startUpstream()
    await using group = new TaskGroup()
    const failure = deferred<unknown>()
    const task = group.createTask(async () => {
      try {
        await fetch(`${upstream.url}/hold/headers`)
      } catch (error) {
        failure.resolve(error)
        throw error
      }
    })
    await upstream.call('headers').arrived
    task.cancel()
    await upstream.call('headers').closed
    const error = (await failure.promise) as TypeError
    expect(error).toBeInstanceOf(TypeError)
    expect(error.cause).toBeInstanceOf(CancelledError)
    expect(isCancellation(error)).toBe(true)
    expect(await rejectionOf(task)).toBe(error.cause)
  })

  it('only the cancelled task’s fetch closes; a sibling’s goes on to the end', async () => {
    const upstream = await startUpstream()
    await using group = new TaskGroup()
    const cancelled = group.createTask(() => fetch(`${upstream.url}/hold/cancelled`))
    const sibling = group.createTask(async () => drain(await fetch(`${upstream.url}/headers-then-hold/sibling`)))
    await Promise.all([upstream.call('cancelled').arrived, upstream.call('sibling').arrived])
    cancelled.cancel()
    await upstream.call('cancelled').closed
    upstream.call('sibling').finish(' the end')
    expect(await sibling).toBe('first chunk; the end')
    expect(upstream.call('sibling').isClosed).toBe(false)
    await rejectionOf(cancelled)
  })

  it('a signal passed by hand still works, in a scope and outside any', async () => {
    const upstream = await startUpstream()
    const controller = new AbortController()
    const outside = fetch(`${upstream.url}/hold/outside`, { signal: controller.signal })
    await upstream.call('outside').arrived
    controller.abort(new Error('by hand'))
    expect(await rejectionOf(outside)).toEqual(new Error('by hand'))
    await upstream.call('outside').closed

    await using group = new TaskGroup()
    const byHand = new AbortController()
    const task = group.createTask(() => fetch(`${upstream.url}/hold/inside`, { signal: byHand.signal }))
    await upstream.call('inside').arrived
    byHand.abort(new Error('by hand, in a task'))
    expect(await rejectionOf(task)).toEqual(new Error('by hand, in a task'))
    await upstream.call('inside').closed
  })

  it('calls outside any scope, and inside shield(), are untouched; no listener is left behind', async () => {
    const upstream = await startUpstream()
    expect(await drain(await fetch(`${upstream.url}/ok/plain`))).toBe('ok plain')
    await using group = new TaskGroup()
    const shielded = deferred<{ done: Promise<string> }>()
    const task = group.createTask(async (signal) => {
      shielded.resolve({ done: shield(async () => drain(await fetch(`${upstream.url}/headers-then-hold/shielded`))) })
      const completed = await drain(await fetch(`${upstream.url}/ok/completed`))
      expect(getEventListeners(signal, 'abort')).toHaveLength(0)
      return completed
    })
    const { done } = await shielded.promise
    expect(await task).toBe('ok completed')
    await upstream.call('shielded').arrived
    group.cancel()
    upstream.call('shielded').finish(' kept')
    expect(await done).toBe('first chunk; kept')
  })

  it('a cancellation before the request is sent sends nothing', async () => {
    const upstream = await startUpstream()
    await using group = new TaskGroup()
    const gate = deferred()
    const task = group.createTask(async () => {
      await gate.promise
      return fetch(`${upstream.url}/ok/never`)
    })
    task.cancel()
    gate.resolve()
    const error = await rejectionOf(task)
    expect(isCancellation(error)).toBe(true)
    expect(await drain(await fetch(`${upstream.url}/ok/after`))).toBe('ok after')
    expect(upstream.received).not.toContain('never')
  })

  it('background work keeps its own signal: cancelling the task that started it does not close its fetch', async () => {
    const upstream = await startUpstream()
    await using group = new TaskGroup()
    const started = deferred<{ job: ReturnType<typeof createBackgroundTask<string>> }>()
    const task = group.createTask((signal) => {
      const job = createBackgroundTask(async () => drain(await fetch(`${upstream.url}/headers-then-hold/job`)))
      started.resolve({ job })
      return untilAborted(signal)
    })
    const { job } = await started.promise
    await upstream.call('job').arrived
    task.cancel()
    await rejectionOf(task)
    upstream.call('job').finish(' done')
    expect(await job).toBe('first chunk; done')
    await job[Symbol.asyncDispose]()
  })

  it('many fetches under one task: no MaxListenersExceededWarning', async () => {
    const upstream = await startUpstream()
    const warnings = collectWarnings()
    await using group = new TaskGroup()
    const bodies = await group.createTask(() =>
      Promise.all(Array.from({ length: 15 }, (_, i) => fetch(`${upstream.url}/ok/${i}`).then(drain))),
    )
    expect(bodies).toHaveLength(15)
    await warnings.flush()
    expect(warnings.warnings.map((warning) => warning.name)).not.toContain('MaxListenersExceededWarning')
  })
})

describe('cancellationInterceptor() with undici (its controller API)', () => {
  it('request(): the body stream fails with the cancellation itself, and the upstream connection closes', async () => {
    const upstream = await startUpstream()
    const agent = new Agent().compose(cancellationInterceptor())
    await using group = new TaskGroup()
    const task = group.createTask(async () => {
      const response = await request(`${upstream.url}/headers-then-hold/request`, { dispatcher: agent })
      return response.body.text()
    })
    await upstream.call('request').arrived
    task.cancel()
    await upstream.call('request').closed
    expect(await rejectionOf(task)).toBeInstanceOf(CancelledError)
  })

  it('fetch() with a composed Agent, and a request queued for a connection fails at once when cancelled', async () => {
    const upstream = await startUpstream()
    const agent = new Agent({ connections: 1 }).compose(cancellationInterceptor())
    await using group = new TaskGroup()
    const first = group.createTask(async () => (await undiciFetch(`${upstream.url}/headers-then-hold/first`, { dispatcher: agent })).text())
    await upstream.call('first').arrived
    const queued = group.createTask(() => undiciFetch(`${upstream.url}/ok/queued`, { dispatcher: agent }))
    queued.cancel()
    expect(await rejectionOf(queued)).toBeInstanceOf(CancelledError)
    upstream.call('first').finish(' done')
    expect(await first).toBe('first chunk; done')
    expect(upstream.received).not.toContain('queued')
    await agent.close()
  })

  it('throws a coded TypeError when given something other than a dispatch function', () => {
    const interceptor = cancellationInterceptor()
    for (const value of [undefined, null, {}, 'dispatch', new Proxy({}, {})]) {
      expect(() => interceptor(value as never)).toThrow(expect.objectContaining({ code: 'ERR_INVALID_ARG_TYPE' }))
    }
  })
})

describe('cancellationInterceptor() on the undici inside Node (6 on Node 20 and 22, 7 on 24, 8 on 26)', () => {
  it('closes the upstream connection when the task is cancelled', async () => {
    const fixture = fileURLToPath(new URL('./fixtures/bundled-fetch.mjs', import.meta.url))
    const child = runNode(fixture)
    expect(await child.exited, child.stderr).toBe(0)
    const result = JSON.parse(child.stdout)
    expect(result).toMatchObject({ upstreamClosed: true, taskStatus: 'cancelled', causeIsCancellation: true, bodyDone: 'ok b' })
  })
})
