import { AsyncLocalStorage } from 'node:async_hooks'
import { once } from 'node:events'
import { BackgroundTask, BackgroundTasks, ClosedError, ShutdownError } from '@taskscope/core'
import { collectUnhandled, deferred, flush, promiseState, rejectionOf } from '@taskscope/test-support'
import { afterEach, describe, expect, it, vi } from 'vitest'

afterEach(() => {
  vi.useRealTimers()
  vi.restoreAllMocks()
})

const never = (): Promise<never> => new Promise(() => {})

/** Work that ends (rejecting with the reason) as soon as its signal aborts. */
const cooperative = async (signal: AbortSignal): Promise<never> => {
  await once(signal, 'abort')
  throw signal.reason
}

/** Everything passed to a console.error spy, with AggregateError members and causes unfolded. */
function reported(spy: { mock: { calls: unknown[][] } }): unknown[] {
  const out: unknown[] = []
  const visit = (value: unknown): void => {
    if (out.includes(value)) return
    out.push(value)
    if (value instanceof AggregateError) value.errors.forEach(visit)
    if (value instanceof Error && value.cause !== undefined) visit(value.cause)
  }
  spy.mock.calls.flat().forEach(visit)
  return out
}

describe('BackgroundTasks: add, active, list, get', () => {
  it('starts work at once with its own signal and returns a BackgroundTask', () => {
    const tasks = new BackgroundTasks()
    const signals: AbortSignal[] = []
    const steps: string[] = []
    const job = tasks.add(
      (signal) => {
        steps.push('work')
        signals.push(signal)
        return never()
      },
      { name: 'reindex' },
    )
    steps.push('returned')
    expect(steps).toEqual(['work', 'returned'])
    expect(job).toBeInstanceOf(BackgroundTask)
    expect(signals[0]).toBe(job.signal)
    expect(job.name).toBe('reindex')
    expect(job.status).toBe('running')
    job.cancel()
  })

  it('names tasks like createBackgroundTask: option, function name, else "background"', () => {
    const tasks = new BackgroundTasks()
    async function rebuildIndex(): Promise<void> {}
    expect(tasks.add(rebuildIndex).name).toBe('rebuildIndex')
    expect(tasks.add(async () => {}).name).toBe('background')
    expect(tasks.add(async () => {}, { name: 'n' }).name).toBe('n')
  })

  it('tracks running tasks in active, list() and get(id); finished tasks leave active and list()', async () => {
    const tasks = new BackgroundTasks()
    const gateA = deferred<string>()
    const gateB = deferred<string>()
    const a = tasks.add(() => gateA.promise, { name: 'a' })
    const b = tasks.add(() => gateB.promise, { name: 'b' })
    expect(tasks.active).toBe(2)
    expect(tasks.get(a.id)).toBe(a)
    expect(tasks.get(b.id)).toBe(b)
    expect(tasks.get('no-such-id')).toBeUndefined()

    const list = tasks.list()
    expect(list).toHaveLength(2)
    expect(list.map((info) => info.name).sort()).toEqual(['a', 'b'])
    const infoA = list.find((info) => info.id === a.id)!
    expect(Object.keys(infoA).sort()).toEqual(['durationMs', 'id', 'name', 'startedAt', 'status'])
    expect(infoA).toEqual({ id: a.id, name: 'a', status: 'running', startedAt: a.startedAt, durationMs: expect.any(Number) })
    expect(infoA.startedAt).toBeInstanceOf(Date)
    expect(infoA).not.toBeInstanceOf(BackgroundTask) // a snapshot, not the task itself

    gateA.resolve('done')
    await a
    expect(tasks.active).toBe(1)
    expect(tasks.get(a.id)).toBe(a) // still found: the history of finished tasks
    expect(tasks.list().map((info) => info.id)).toEqual([b.id])

    b.cancel()
    gateB.resolve('ignored the cancel')
    await b
    expect(tasks.active).toBe(0)
    expect(tasks.list()).toEqual([])
    expect(tasks.get(b.id)).toBe(b)
  })

  it('does not count tasks that settle synchronously as active', () => {
    const tasks = new BackgroundTasks({ onError: () => {} })
    const job = tasks.add(() => 'sync')
    expect(job.status).toBe('fulfilled')
    expect(tasks.active).toBe(0)
    expect(tasks.get(job.id)).toBe(job)
  })

  it('stays flat over many tasks: every settled task leaves the registry (2 rounds of 10,000)', async () => {
    // 10,000 per round keeps it fast (each task owns an AbortController, ~15 µs apiece in Node 20);
    // the rounds show the count returns to zero each time instead of growing.
    const tasks = new BackgroundTasks()
    for (let round = 0; round < 2; round++) {
      const gate = deferred()
      const count = 10_000
      const ids = new Set<string>()
      for (let i = 0; i < count; i++) ids.add(tasks.add(() => gate.promise).id)
      expect(ids.size).toBe(count)
      expect(tasks.active).toBe(count)
      expect(tasks.list()).toHaveLength(count)
      gate.resolve()
      await flush()
      expect(tasks.active).toBe(0)
      expect(tasks.list()).toEqual([])
      expect(tasks.get([...ids][0]!)).toBeUndefined()
    }
  })

  it('throws a TypeError with a code for invalid work, name and options', () => {
    const tasks = new BackgroundTasks()
    const thrown = (fn: () => unknown): any => {
      try {
        fn()
      } catch (error) {
        return error
      }
      throw new Error('expected a throw')
    }
    const notWork = thrown(() => tasks.add(42 as never))
    expect(notWork).toBeInstanceOf(TypeError)
    expect(notWork.code).toBe('ERR_INVALID_ARG_TYPE')
    expect(notWork.message).toMatch(/work/)
    expect(notWork.message).toMatch(/42/)

    const badName = thrown(() => tasks.add(async () => {}, { name: 7 } as never))
    expect(badName).toBeInstanceOf(TypeError)
    expect(badName.message).toMatch(/name/)

    const badHook = thrown(() => new BackgroundTasks({ onError: 'log' } as never))
    expect(badHook).toBeInstanceOf(TypeError)
    expect(badHook.code).toBe('ERR_INVALID_ARG_TYPE')
    expect(badHook.message).toMatch(/onError/)
    expect(badHook.message).toMatch(/log/)

    expect(() => new BackgroundTasks(42 as never)).toThrow(TypeError)
    expect(tasks.active).toBe(0)
  })
})

describe('BackgroundTasks: failures', () => {
  it('sends a failure nobody observed to onError(error, task), never to an unhandled rejection', async () => {
    const onError = vi.fn()
    const boom = new Error('boom')
    let job!: BackgroundTask
    const unhandled = await collectUnhandled(async () => {
      const tasks = new BackgroundTasks({ onError })
      job = tasks.add(
        async () => {
          await flush(1)
          throw boom
        },
        { name: 'mailer' },
      )
      await flush()
      expect(tasks.active).toBe(0)
    })
    expect(unhandled).toEqual([])
    expect(onError).toHaveBeenCalledOnce()
    expect(onError).toHaveBeenCalledWith(boom, job)
    expect(job.status).toBe('rejected')
  })

  it('sends a synchronous throw of the work to onError', async () => {
    const onError = vi.fn()
    const boom = new Error('sync')
    const tasks = new BackgroundTasks({ onError })
    const job = tasks.add(() => {
      throw boom
    })
    await flush()
    expect(onError).toHaveBeenCalledWith(boom, job)
  })

  it('does not call onError for a task observed (awaited or handled) before it failed', async () => {
    const onError = vi.fn()
    const tasks = new BackgroundTasks({ onError })
    const gate1 = deferred()
    const gate2 = deferred()
    const awaited = tasks.add(() => gate1.promise)
    const handled = tasks.add(() => gate2.promise)
    const seen = rejectionOf(awaited)
    handled.catch(() => {})
    const boom = new Error('observed')
    gate1.reject(boom)
    gate2.reject(boom)
    expect(await seen).toBe(boom)
    await flush()
    expect(onError).not.toHaveBeenCalled()
  })

  it('still reports a failure observed only after it happened', async () => {
    const onError = vi.fn()
    const tasks = new BackgroundTasks({ onError })
    const boom = new Error('late look')
    const job = tasks.add(async () => {
      throw boom
    })
    await flush()
    expect(onError).toHaveBeenCalledOnce()
    expect(await rejectionOf(job)).toBe(boom)
    expect(onError).toHaveBeenCalledOnce()
  })

  it('never calls onError for a cancellation', async () => {
    const onError = vi.fn()
    const tasks = new BackgroundTasks({ onError })
    const job = tasks.add(cooperative)
    job.cancel('no longer needed')
    await flush()
    expect(job.status).toBe('cancelled')
    expect(onError).not.toHaveBeenCalled()
  })

  it('reports both errors through console.error when onError itself throws', async () => {
    const consoleError = vi.spyOn(console, 'error').mockImplementation(() => {})
    const taskError = new Error('task failed')
    const hookError = new Error('hook failed')
    const unhandled = await collectUnhandled(async () => {
      const tasks = new BackgroundTasks({
        onError: () => {
          throw hookError
        },
      })
      tasks.add(async () => {
        throw taskError
      })
      await flush()
    })
    expect(unhandled).toEqual([])
    expect(consoleError).toHaveBeenCalled()
    const all = reported(consoleError)
    expect(all).toContain(taskError)
    expect(all).toContain(hookError)
  })

  it('uses console.error by default, naming the task', async () => {
    const consoleError = vi.spyOn(console, 'error').mockImplementation(() => {})
    const boom = new Error('default hook')
    const tasks = new BackgroundTasks()
    tasks.add(
      async () => {
        throw boom
      },
      { name: 'thumbnailer' },
    )
    await flush()
    expect(consoleError).toHaveBeenCalledOnce()
    expect(reported(consoleError)).toContain(boom)
    expect(consoleError.mock.calls[0]!.join(' ')).toMatch(/thumbnailer/)
  })
})

describe('BackgroundTasks: shutdown', () => {
  it('refuses new tasks with ClosedError from the moment it is called', async () => {
    const tasks = new BackgroundTasks()
    const gate = deferred()
    tasks.add(() => gate.promise)
    expect(tasks.closed).toBe(false)
    const report = tasks.shutdown({ timeout: 60_000 })
    expect(tasks.closed).toBe(true)
    let error: any
    try {
      tasks.add(async () => {})
    } catch (e) {
      error = e
    }
    expect(error).toBeInstanceOf(ClosedError)
    expect(error.code).toBe('ERR_CLOSED')
    expect(tasks.active).toBe(1)
    gate.resolve()
    await report
    expect(() => tasks.add(async () => {})).toThrow(ClosedError)
  })

  it('waits for running tasks without cancelling them when they finish in time', async () => {
    const tasks = new BackgroundTasks({ onError: () => {} })
    const ok = deferred<string>()
    const bad = deferred()
    const a = tasks.add(() => ok.promise)
    const b = tasks.add(() => bad.promise)
    const report = tasks.shutdown({ timeout: 60_000 })
    expect(await promiseState(report)).toBe('pending')
    ok.resolve('done')
    bad.reject(new Error('failed while draining'))
    expect(await report).toEqual({ completed: 1, failed: 1, cancelled: 0, abandoned: 0 })
    expect(a.signal.aborted).toBe(false)
    expect(b.signal.aborted).toBe(false)
    expect(tasks.active).toBe(0)
  })

  it('resolves at once with zeros when nothing runs, counting only tasks running at the call', async () => {
    const tasks = new BackgroundTasks({ onError: () => {} })
    await tasks.add(async () => 'before')
    await tasks
      .add(async () => {
        throw new Error('before')
      })
      .then(
        () => {},
        () => {},
      )
    const report = tasks.shutdown({ timeout: 60_000, grace: 60_000 })
    expect(await promiseState(report)).toBe('fulfilled')
    expect(await report).toEqual({ completed: 0, failed: 0, cancelled: 0, abandoned: 0 })
  })

  it('cancels tasks still running after timeout with ShutdownError, then reports abandoned ones after grace', async () => {
    vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout'] })
    const tasks = new BackgroundTasks({ onError: () => {} })
    const done = deferred<string>()
    const fails = deferred()
    const completes = tasks.add(() => done.promise)
    const failing = tasks.add(() => fails.promise)
    const honours = tasks.add(cooperative)
    const ignores = tasks.add(never)
    const report = tasks.shutdown({ timeout: 1_000, grace: 500 })

    await vi.advanceTimersByTimeAsync(500)
    done.resolve('in time')
    fails.reject(new Error('failed in time'))
    await vi.advanceTimersByTimeAsync(499)
    expect(honours.signal.aborted).toBe(false)
    expect(ignores.signal.aborted).toBe(false)

    await vi.advanceTimersByTimeAsync(1)
    for (const task of [honours, ignores]) {
      expect(task.signal.aborted).toBe(true)
      expect(task.signal.reason).toBeInstanceOf(ShutdownError)
      expect(task.signal.reason.code).toBe('ERR_SHUTTING_DOWN')
    }
    expect(completes.signal.aborted).toBe(false)
    expect(failing.signal.aborted).toBe(false)
    expect(honours.status).toBe('cancelled')
    expect(ignores.status).toBe('running')

    await vi.advanceTimersByTimeAsync(499)
    expect(await promiseState(report)).toBe('pending')
    await vi.advanceTimersByTimeAsync(1)
    expect(await report).toEqual({ completed: 1, failed: 1, cancelled: 1, abandoned: 1 })
  })

  it('defaults to timeout 5000 ms and grace 1000 ms', async () => {
    vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout'] })
    const tasks = new BackgroundTasks()
    const ignores = tasks.add(never)
    const report = tasks.shutdown()
    await vi.advanceTimersByTimeAsync(4_999)
    expect(ignores.signal.aborted).toBe(false)
    await vi.advanceTimersByTimeAsync(1)
    expect(ignores.signal.reason).toBeInstanceOf(ShutdownError)
    await vi.advanceTimersByTimeAsync(999)
    expect(await promiseState(report)).toBe('pending')
    await vi.advanceTimersByTimeAsync(1)
    expect(await report).toEqual({ completed: 0, failed: 0, cancelled: 0, abandoned: 1 })
  })

  it('cancels at once with timeout 0 and counts cooperative tasks as cancelled', async () => {
    const tasks = new BackgroundTasks()
    const a = tasks.add(cooperative)
    const b = tasks.add(cooperative)
    expect(await tasks.shutdown({ timeout: 0 })).toEqual({ completed: 0, failed: 0, cancelled: 2, abandoned: 0 })
    expect(a.signal.reason.code).toBe('ERR_SHUTTING_DOWN')
    expect(b.status).toBe('cancelled')
    expect(tasks.active).toBe(0)
  })

  it('is idempotent: a second call returns the same promise', async () => {
    const tasks = new BackgroundTasks()
    const gate = deferred()
    tasks.add(() => gate.promise)
    const first = tasks.shutdown({ timeout: 60_000 })
    const second = tasks.shutdown({ timeout: 0 })
    expect(second).toBe(first)
    expect(tasks.shutdown()).toBe(first)
    gate.resolve()
    expect(await second).toEqual({ completed: 1, failed: 0, cancelled: 0, abandoned: 0 })
  })

  it('throws RangeError/TypeError naming the option and showing the value', () => {
    const tasks = new BackgroundTasks()
    const thrown = (options: unknown): any => {
      try {
        tasks.shutdown(options as never)
      } catch (error) {
        return error
      }
      throw new Error('expected a throw')
    }
    const negative = thrown({ timeout: -1 })
    expect(negative).toBeInstanceOf(RangeError)
    expect(negative.code).toBe('ERR_OUT_OF_RANGE')
    expect(negative.message).toMatch(/timeout/)
    expect(negative.message).toMatch(/-1/)

    const graceType = thrown({ grace: 'soon' })
    expect(graceType).toBeInstanceOf(TypeError)
    expect(graceType.code).toBe('ERR_INVALID_ARG_TYPE')
    expect(graceType.message).toMatch(/grace/)
    expect(graceType.message).toMatch(/soon/)

    expect(thrown({ timeout: Number.NaN })).toBeInstanceOf(TypeError)
    expect(thrown({ grace: -5 })).toBeInstanceOf(RangeError)
    expect(thrown(42)).toBeInstanceOf(TypeError)
  })

  it('treats timeout: Infinity as "wait as long as it takes"', async () => {
    vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout'] })
    const tasks = new BackgroundTasks()
    const gate = deferred()
    const job = tasks.add(() => gate.promise)
    const report = tasks.shutdown({ timeout: Infinity })
    await vi.advanceTimersByTimeAsync(60_000)
    expect(job.signal.aborted).toBe(false)
    gate.resolve()
    expect(await report).toEqual({ completed: 1, failed: 0, cancelled: 0, abandoned: 0 })
  })

  it('shuts down at the end of an `await using` block', async () => {
    const gate = deferred()
    const body = deferred()
    let registry!: BackgroundTasks
    let job!: BackgroundTask
    const run = (async () => {
      await using tasks = new BackgroundTasks()
      registry = tasks
      job = tasks.add(() => gate.promise)
      await body.promise
    })()
    await flush()
    expect(registry.closed).toBe(false)
    body.resolve()
    await flush()
    expect(registry.closed).toBe(true) // shutdown() was called at block end ...
    expect(await promiseState(run)).toBe('pending') // ... and the block waits for the drain
    expect(() => registry.add(async () => {})).toThrow(ClosedError)
    gate.resolve()
    await run
    expect(job.status).toBe('fulfilled')
    expect(registry.active).toBe(0)
  })
})

describe('BackgroundTasks: AsyncLocalStorage', () => {
  it('runs work in the context of the add() caller, across awaits', async () => {
    const als = new AsyncLocalStorage<{ requestId: string }>()
    const tasks = new BackgroundTasks()
    const gate = deferred()
    const seen: (string | undefined)[] = []
    const job = als.run({ requestId: 'r-1' }, () =>
      tasks.add(async () => {
        seen.push(als.getStore()?.requestId)
        await gate.promise
        seen.push(als.getStore()?.requestId)
      }),
    )
    als.run({ requestId: 'r-2' }, () => gate.resolve())
    await job
    expect(seen).toEqual(['r-1', 'r-1'])
  })
})
