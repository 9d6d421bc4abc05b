// currentSignal(): the innermost scope's AbortSignal (a task's own, a background task's, a race
// entry's, the request group's), following the code across awaits; shield() removes it.
import { EventEmitter, getEventListeners } from 'node:events'
import http from 'node:http'
import net from 'node:net'
import { fileURLToPath } from 'node:url'
import {
  BackgroundTasks,
  CancelledError,
  createBackgroundTask,
  createRuntime,
  currentSignal,
  currentTaskGroup,
  firstSuccessful,
  runUntilFirstComplete,
  shield,
  TaskGroup,
  TimeoutError,
} from '@taskscope/core'
import { enableCurrentSignal, requestBinding } from '@taskscope/core/adapter'
import { cleanup, deferred, rejectionOf, runNode, untilAborted } from '@taskscope/test-support'
import { afterEach, describe, expect, it } from 'vitest'

afterEach(cleanup)

/** Reads currentSignal() after an await, a timer, an immediate, a nextTick and an event callback. */
async function signalsAcross(): Promise<(AbortSignal | undefined)[]> {
  const sync = currentSignal()
  await Promise.resolve()
  const afterAwait = currentSignal()
  const inTimer = await new Promise<AbortSignal | undefined>((resolve) => setTimeout(() => resolve(currentSignal()), 0))
  const inImmediate = await new Promise<AbortSignal | undefined>((resolve) => setImmediate(() => resolve(currentSignal())))
  const inTick = await new Promise<AbortSignal | undefined>((resolve) => process.nextTick(() => resolve(currentSignal())))
  const emitter = new EventEmitter()
  const inListener = new Promise<AbortSignal | undefined>((resolve) => emitter.once('go', () => resolve(currentSignal())))
  emitter.emit('go')
  return [sync, afterAwait, inTimer, inImmediate, inTick, await inListener]
}

describe('before anything asked for it (a fresh process)', () => {
  const fixture = fileURLToPath(new URL('./fixtures/current-signal-activation.mjs', import.meta.url))

  it('tasks started before the first currentSignal() see their group signal; tasks started after, their own', async () => {
    const child = runNode(fixture, { args: ['lazy'] })
    expect(await child.exited, child.stderr).toBe(0)
    expect(JSON.parse(child.stdout)).toEqual({
      earlyTaskSeesGroupSignal: true,
      earlyBackgroundSeesNone: true,
      lateTaskSeesOwnSignal: true,
      lateBackgroundSeesOwnSignal: true,
    })
  })

  it('enableCurrentSignal() (idempotent) gives tasks their own signal from the start', async () => {
    const child = runNode(fixture, { args: ['enabled'] })
    expect(await child.exited, child.stderr).toBe(0)
    expect(JSON.parse(child.stdout)).toEqual({ firstTaskSeesOwnSignal: true, backgroundSeesOwnSignal: true })
  })
})

describe('currentSignal()', () => {
  it('is undefined outside any scope', async () => {
    expect(currentSignal()).toBeUndefined()
    expect(await signalsAcross()).toEqual([undefined, undefined, undefined, undefined, undefined, undefined])
  })

  it("is the task's own signal, across awaits, timers, immediates, ticks and callbacks, also for zero-parameter work", async () => {
    await using group = new TaskGroup()
    const withParameter = group.createTask((_signal) => signalsAcross())
    const withoutParameter = group.createTask(() => signalsAcross())
    const [seen, seenZero] = await Promise.all([withParameter, withoutParameter])
    expect(new Set(seen)).toEqual(new Set([withParameter.signal]))
    expect(new Set(seenZero)).toEqual(new Set([withoutParameter.signal]))
    expect(withParameter.signal).not.toBe(group.signal)
    expect(withoutParameter.signal).not.toBe(withParameter.signal)
  })

  it('task.cancel() aborts only that task’s signal (zero-parameter work too); its siblings go on', async () => {
    await using group = new TaskGroup()
    const seen = deferred<unknown>()
    const cancelled = group.createTask(() => untilAborted(currentSignal()!, seen))
    const sibling = deferred<AbortSignal>()
    const running = group.createTask(async () => {
      sibling.resolve(currentSignal()!)
      return 'sibling done'
    })
    cancelled.cancel(new Error('stop this one'))
    const reason = await seen.promise
    expect(reason).toBeInstanceOf(CancelledError)
    expect((reason as Error).cause).toEqual(new Error('stop this one'))
    expect(cancelled.status).toBe('cancelled')
    expect(await running).toBe('sibling done')
    expect((await sibling.promise).aborted).toBe(false)
    expect(group.signal.aborted).toBe(false)
  })

  it("aborts with the group: group.cancel(), a sibling's failure, the group's timeout", async () => {
    const group = new TaskGroup()
    const a = group.createTask(() => untilAborted(currentSignal()!))
    group.cancel(new Error('all of them'))
    expect(await rejectionOf(a)).toBeInstanceOf(CancelledError)
    await group.close()

    const failing = new TaskGroup()
    const seen = deferred<unknown>()
    failing.createTask(() => untilAborted(currentSignal()!, seen))
    failing.createTask(async () => {
      throw new Error('boom')
    })
    expect(await seen.promise).toBeInstanceOf(CancelledError)
    await rejectionOf(failing.close())

    const timed = new TaskGroup({ timeout: 1 })
    const timedOut = deferred<unknown>()
    timed.createTask(() => untilAborted(currentSignal()!, timedOut))
    expect(await timedOut.promise).toBeInstanceOf(TimeoutError)
    await rejectionOf(timed.close())
  })

  it('is the innermost task’s: a group made inside a task, then the outer task again', async () => {
    await using outer = new TaskGroup()
    const task = outer.createTask(async () => {
      await using inner = new TaskGroup()
      const innerTask = inner.createTask(async () => currentSignal())
      const innerSeen = await innerTask
      return { inner: innerSeen === innerTask.signal, outer: currentSignal() }
    })
    const seen = await task
    expect(seen.inner).toBe(true)
    expect(seen.outer).toBe(task.signal)
  })

  it('in a child group, queued tasks and group.start(), each task has its own', async () => {
    await using group = new TaskGroup({ limit: 1 })
    const child = group.child()
    const childSeen = deferred<unknown>()
    child.createTask(() => untilAborted(currentSignal()!, childSeen))
    const first = group.createTask(async () => currentSignal())
    const queued = group.createTask(async () => currentSignal())
    expect(queued.status).toBe('queued')
    expect(await first).toBe(first.signal)
    expect(await queued).toBe(queued.signal)
    const started = await group.start<AbortSignal | undefined>((_signal, ready) => ready(currentSignal()))
    expect(started).toBeInstanceOf(AbortSignal)
    group.cancel()
    expect(await childSeen.promise).toBeInstanceOf(CancelledError)
  })

  it("is the surrounding scope's in the body of TaskGroup.run, which is not a task", async () => {
    expect(await TaskGroup.run(async () => currentSignal())).toBeUndefined()
    await using group = new TaskGroup()
    const task = group.createTask(() => TaskGroup.run(async () => currentSignal()))
    expect(await task).toBe(task.signal)
  })

  it("is a background task's own signal, never the signal of the task that started it", async () => {
    await using group = new TaskGroup()
    await using registry = new BackgroundTasks()
    const started = deferred<AbortSignal | undefined>()
    const release = deferred()
    const outer = group.createTask(async () => {
      const job = registry.add(async () => {
        started.resolve(currentSignal())
        await release.promise
        return currentSignal()
      })
      return { job }
    })
    const { job } = await outer
    expect(await started.promise).toBe(job.signal)
    outer.cancel()
    group.cancel()
    release.resolve()
    expect(await job).toBe(job.signal)
    expect(job.signal.aborted).toBe(false)

    await using scoped = createBackgroundTask(async () => currentSignal())
    expect(await scoped).toBe(scoped.signal)
  })

  it("is each race entry's own signal: the losers' abort, the winner's does not", async () => {
    const seen: (AbortSignal | undefined)[] = []
    const value = await firstSuccessful([
      async () => {
        seen[0] = currentSignal()
        return 'winner'
      },
      () => {
        seen[1] = currentSignal()
        return untilAborted(seen[1]!)
      },
    ])
    expect(value).toBe('winner')
    expect(seen[0]!.aborted).toBe(false)
    expect(seen[1]!.aborted).toBe(true)
    expect(seen[1]!.reason).toBeInstanceOf(CancelledError)
  })

  it('a race with no signal given follows the scope it runs in: cancelling the task ends the race', async () => {
    await using group = new TaskGroup()
    const entrySaw = deferred<unknown>()
    const raced = deferred<unknown>()
    const task = group.createTask(async () => {
      const race = runUntilFirstComplete(() => untilAborted(currentSignal()!, entrySaw))
      raced.resolve(await rejectionOf(race))
    })
    task.cancel()
    expect(await raced.promise).toBeInstanceOf(CancelledError)
    expect(await entrySaw.promise).toBeInstanceOf(CancelledError)
    await task
  })

  it("in a request handler outside any task, is the request group's signal, the group made on first use", async () => {
    const runtime = createRuntime()
    const binding = requestBinding<{ raw: http.IncomingMessage; taskGroup: TaskGroup }>({
      name: 'req',
      namespace: `test-${Math.random()}`,
      adapter: 'concurrency()',
      install: 'app.use(concurrency())',
      request: (target) => target.raw,
    })
    const raw = new http.IncomingMessage(new net.Socket())
    const req = Object.assign(Object.create(Object.defineProperties({}, binding.accessors)), { raw })
    binding.mount(req, runtime, new http.ServerResponse(raw))
    const seen = await binding.run(req, async () => {
      expect(binding.group(req)).toBeUndefined()
      const signal = currentSignal()
      const task = req.taskGroup.createTask(async () => currentSignal())
      return { signal, inTask: await task, task }
    })
    expect(seen.signal).toBe(req.taskGroup.signal)
    expect(seen.inTask).toBe(seen.task.signal)
    req.taskGroup.cancel()
    await req.taskGroup.close()
    await runtime.close()
  })

  it('adds no listener of its own, and many readers on one task see no MaxListeners warning', async () => {
    await using group = new TaskGroup()
    const task = group.createTask(async () => {
      const signal = currentSignal()!
      const listeners = Array.from({ length: 20 }, () => () => {})
      for (const listener of listeners) signal.addEventListener('abort', listener, { once: true })
      const count = getEventListeners(signal, 'abort').length
      for (const listener of listeners) signal.removeEventListener('abort', listener)
      return count
    })
    expect(await task).toBe(20)
    expect(getEventListeners(task.signal, 'abort')).toHaveLength(0)
  })
})

describe('shield()', () => {
  it('runs fn with no currentSignal(), across awaits; currentTaskGroup() is unchanged', async () => {
    await using group = new TaskGroup()
    const task = group.createTask(async () => {
      const inside = await shield(async () => ({ signals: await signalsAcross(), group: currentTaskGroup() }))
      return { ...inside, after: currentSignal() }
    })
    const seen = await task
    expect(seen.signals).toEqual([undefined, undefined, undefined, undefined, undefined, undefined])
    expect(seen.group).toBe(group)
    expect(seen.after).toBe(task.signal)
  })

  it('protects work from the cancellation of the task around it', async () => {
    await using group = new TaskGroup()
    const release = deferred()
    const shielded = deferred<{ work: Promise<string> }>()
    const task = group.createTask(async () => {
      const work = shield(async () => {
        await release.promise
        return currentSignal()?.aborted ? 'cancelled' : 'finished'
      })
      shielded.resolve({ work })
      return work
    })
    const { work } = await shielded.promise
    task.cancel()
    release.resolve()
    expect(await work).toBe('finished')
  })

  it('a task started inside a shield has its own signal', async () => {
    await using group = new TaskGroup()
    const seen = await shield(async () => {
      const task = group.createTask(async () => currentSignal())
      return { task, signal: await task }
    })
    expect(seen.signal).toBe(seen.task.signal)
  })

  it('returns what fn returns and throws what it throws, synchronously', () => {
    const value = { any: 'thing' }
    expect(shield(() => value)).toBe(value)
    const boom = new Error('boom')
    expect(() =>
      shield(() => {
        throw boom
      }),
    ).toThrow(boom)
  })

  it.each([
    ['undefined', undefined],
    ['null', null],
    ['a string', 'fn'],
    ['a promise', Promise.resolve(1)],
    ['a thenable', Object.fromEntries([['then', (resolve: (v: number) => void) => resolve(1)]])],
    ['a Proxy of a plain object', new Proxy({}, {})],
    [
      'an object with throwing getters',
      Object.defineProperty({}, 'call', {
        get() {
          throw new Error('getter')
        },
      }),
    ],
  ])('throws a coded TypeError for %s instead of a function', (_label, value) => {
    let error: unknown
    try {
      shield(value as never)
    } catch (caught) {
      error = caught
    }
    expect(error).toBeInstanceOf(TypeError)
    expect((error as { code?: string }).code).toBe('ERR_INVALID_ARG_TYPE')
    expect((error as Error).message).toMatch(/The "fn" argument of shield\(\) must be a function\. Received/)
  })
})

describe('enableCurrentSignal()', () => {
  it('is idempotent', async () => {
    enableCurrentSignal()
    enableCurrentSignal()
    await using group = new TaskGroup()
    const task = group.createTask(async () => currentSignal())
    expect(await task).toBe(task.signal)
  })
})
