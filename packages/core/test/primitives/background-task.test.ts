import { AsyncLocalStorage } from 'node:async_hooks'
import { once } from 'node:events'
import { performance } from 'node:perf_hooks'
import { setTimeout as sleep } from 'node:timers/promises'
import { BackgroundTask, CancelledError, createBackgroundTask, isCancellation, ShutdownError } from '@taskscope/core'
import { collectUnhandled, deferred, flush, promiseState, rejectionOf } from '@taskscope/test-support'
import { afterEach, describe, expect, it, vi } from 'vitest'

const uuid = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i

afterEach(() => {
  vi.restoreAllMocks()
})

describe('createBackgroundTask: starting', () => {
  it('calls work synchronously, before it returns, with an AbortSignal of its own', () => {
    const calls: AbortSignal[] = []
    const steps: string[] = []
    const task = createBackgroundTask((signal) => {
      steps.push('work')
      calls.push(signal)
      return new Promise(() => {})
    })
    steps.push('returned')
    expect(steps).toEqual(['work', 'returned'])
    expect(calls).toHaveLength(1)
    expect(calls[0]).toBeInstanceOf(AbortSignal)
    expect(calls[0]).toBe(task.signal)
    expect(task.signal.aborted).toBe(false)
    const other = createBackgroundTask(() => new Promise(() => {}))
    expect(other.signal).not.toBe(task.signal)
    task.cancel()
    other.cancel()
  })

  it('is a BackgroundTask with a unique UUID id, a startedAt Date and status running', () => {
    const gate = deferred()
    const before = Date.now()
    const a = createBackgroundTask(() => gate.promise)
    const b = createBackgroundTask(() => gate.promise)
    const after = Date.now()
    expect(a).toBeInstanceOf(BackgroundTask)
    expect(a.id).toMatch(uuid)
    expect(b.id).toMatch(uuid)
    expect(a.id).not.toBe(b.id)
    expect(a.startedAt).toBeInstanceOf(Date)
    expect(a.startedAt.getTime()).toBeGreaterThanOrEqual(before)
    expect(a.startedAt.getTime()).toBeLessThanOrEqual(after)
    expect(a.status).toBe('running')
    gate.resolve()
  })

  it('is named by the option, else by the function name, else "background"', () => {
    async function sendNewsletter(): Promise<void> {}
    expect(createBackgroundTask(async () => {}, { name: 'reindex' }).name).toBe('reindex')
    expect(createBackgroundTask(sendNewsletter).name).toBe('sendNewsletter')
    expect(createBackgroundTask(sendNewsletter, { name: 'explicit' }).name).toBe('explicit')
    expect(createBackgroundTask(async () => {}).name).toBe('background')
    expect(createBackgroundTask(Promise.resolve(1)).name).toBe('background')
  })

  it('throws a TypeError with a code for work that is neither a function nor a promise, and for a bad name', () => {
    for (const bad of [42, 'work', null, undefined, {}]) {
      let error: any
      try {
        createBackgroundTask(bad as never)
      } catch (e) {
        error = e
      }
      expect(error).toBeInstanceOf(TypeError)
      expect(error.code).toBe('ERR_INVALID_ARG_TYPE')
      expect(error.message).toMatch(/work/)
    }
    expect(() => createBackgroundTask(async () => {}, { name: 42 } as never)).toThrow(
      expect.objectContaining({ name: 'TypeError', code: 'ERR_INVALID_ARG_TYPE', message: expect.stringMatching(/name.*42/s) }),
    )
    expect(() => createBackgroundTask(async () => {}, 'name' as never)).toThrow(TypeError)
  })
})

describe('createBackgroundTask: outcome and status', () => {
  it('fulfils with the value of the work: status fulfilled, then/catch/finally/await and Promise.all work', async () => {
    const gate = deferred<number>()
    const task = createBackgroundTask(() => gate.promise)
    expect(await promiseState(task)).toBe('pending')
    gate.resolve(42)
    expect(await task).toBe(42)
    expect(task.status).toBe('fulfilled')
    expect(await task.then((v) => v + 1)).toBe(43)
    expect(await task.catch(() => 0)).toBe(42)
    const finallyCalled = vi.fn()
    expect(await task.finally(finallyCalled)).toBe(42)
    expect(finallyCalled).toHaveBeenCalledOnce()
    expect(await Promise.all([task, createBackgroundTask(() => 'sync value')])).toEqual([42, 'sync value'])
  })

  it('takes a bare promise as work', async () => {
    const task = createBackgroundTask(Promise.resolve('bare'))
    expect(await task).toBe('bare')
    expect(task.status).toBe('fulfilled')
  })

  it('rejects with the failure of the work: status rejected', async () => {
    const boom = new Error('boom')
    const task = createBackgroundTask(async () => {
      await flush(1)
      throw boom
    })
    expect(await rejectionOf(task)).toBe(boom)
    expect(task.status).toBe('rejected')
    expect(await task.catch((e: unknown) => e)).toBe(boom)
  })

  it('treats a synchronous throw in work as its rejection', async () => {
    const boom = new Error('sync')
    const task = createBackgroundTask(() => {
      throw boom
    })
    expect(await rejectionOf(task)).toBe(boom)
    expect(task.status).toBe('rejected')
  })

  it('never turns an unobserved failure into an unhandled rejection', async () => {
    const unhandled = await collectUnhandled(async () => {
      const t1 = createBackgroundTask(async () => {
        throw new Error('nobody looks')
      })
      const t2 = createBackgroundTask(Promise.reject(new Error('bare, nobody looks')))
      await flush()
      expect(t1.status).toBe('rejected')
      expect(t2.status).toBe('rejected')
    })
    expect(unhandled).toEqual([])
  })

  it('measures durationMs with performance.now, frozen once settled', async () => {
    let now = 1_000
    vi.spyOn(performance, 'now').mockImplementation(() => now)
    const gate = deferred()
    const task = createBackgroundTask(() => gate.promise)
    now = 1_100
    expect(task.durationMs).toBe(100)
    now = 1_250
    gate.resolve()
    await task
    now = 9_999
    expect(task.durationMs).toBe(250)
  })
})

describe('createBackgroundTask: cancel()', () => {
  it('aborts the signal with a CancelledError whose cause is the reason; a cooperative task ends cancelled', async () => {
    const task = createBackgroundTask(async (signal) => {
      await once(signal, 'abort')
      throw signal.reason
    })
    task.cancel('not needed')
    expect(task.signal.aborted).toBe(true)
    expect(task.signal.reason).toBeInstanceOf(CancelledError)
    expect(task.signal.reason.cause).toBe('not needed')
    const error = await rejectionOf(task)
    expect(error).toBe(task.signal.reason)
    expect(task.status).toBe('cancelled')
  })

  it('uses a CancelledError reason as it is', () => {
    const task = createBackgroundTask(() => new Promise(() => {}))
    const reason = new ShutdownError()
    task.cancel(reason)
    expect(task.signal.reason).toBe(reason)
  })

  it('without a reason still aborts with a CancelledError', () => {
    const task = createBackgroundTask(() => new Promise(() => {}))
    task.cancel()
    expect(task.signal.reason).toBeInstanceOf(CancelledError)
    expect(task.signal.reason.cause).toBeUndefined()
  })

  it('ends cancelled when work rejects with any cancellation (Node AbortError) after its signal aborted', async () => {
    const task = createBackgroundTask((signal) => sleep(60_000, undefined, { signal }))
    task.cancel('stop')
    const error = await rejectionOf(task)
    expect(task.status).toBe('cancelled')
    expect(error).toBeInstanceOf(CancelledError)
    expect(isCancellation(error)).toBe(true)
  })

  it('ends cancelled (not rejected) when work rejects with a cancellation of its own', async () => {
    const task = createBackgroundTask(async () => {
      throw new DOMException('gave up', 'AbortError')
    })
    const error = await rejectionOf(task)
    expect(task.status).toBe('cancelled')
    expect(error).toBeInstanceOf(CancelledError)
  })

  it('does nothing once the task has settled', async () => {
    const task = createBackgroundTask(async () => 'done')
    await task
    task.cancel('too late')
    expect(task.signal.aborted).toBe(false)
    expect(task.status).toBe('fulfilled')
    expect(await task).toBe('done')
  })

  it("rejects a bare-promise task at once; the promise's later rejection is ignored", async () => {
    const bare = deferred<string>()
    const unhandled = await collectUnhandled(async () => {
      const task = createBackgroundTask(bare.promise)
      task.cancel('stop')
      expect(task.status).toBe('cancelled')
      const error = await rejectionOf(task)
      expect(error).toBeInstanceOf(CancelledError)
      expect(error.cause).toBe('stop')
      bare.reject(new Error('late failure'))
      await flush()
      expect(task.status).toBe('cancelled')
      expect(await rejectionOf(task)).toBe(error)
    })
    expect(unhandled).toEqual([])
  })

  it('keeps a task that ignores its signal running until its work settles', async () => {
    const gate = deferred<string>()
    const task = createBackgroundTask(() => gate.promise)
    task.cancel()
    expect(task.status).toBe('running')
    gate.resolve('finished anyway')
    expect(await task).toBe('finished anyway')
    expect(task.status).toBe('fulfilled')
  })
})

describe('createBackgroundTask: await using', () => {
  it('cancels a running task at block end and waits until its finally has run; a cancellation is not thrown', async () => {
    const steps: string[] = []
    let job!: BackgroundTask<void>
    await (async () => {
      await using scoped = createBackgroundTask(async (signal) => {
        try {
          await once(signal, 'abort')
          throw signal.reason
        } finally {
          await flush(1) // asynchronous cleanup
          steps.push('cleanup')
        }
      })
      job = scoped
      steps.push('body')
    })()
    steps.push('after block')
    expect(steps).toEqual(['body', 'cleanup', 'after block'])
    expect(job.signal.aborted).toBe(true)
    expect(job.status).toBe('cancelled')
  })

  it('does not cancel a task that already finished, and throws nothing', async () => {
    let job!: BackgroundTask<number>
    await (async () => {
      await using scoped = createBackgroundTask(async () => 7)
      job = scoped
      await flush(1)
    })()
    expect(job.status).toBe('fulfilled')
    expect(job.signal.aborted).toBe(false)
  })

  it('throws the failure of a task nobody observed', async () => {
    const boom = new Error('unobserved')
    const run = async (): Promise<void> => {
      await using scoped = createBackgroundTask(async () => {
        throw boom
      })
      await flush(1)
      expect(scoped.status).toBe('rejected')
    }
    expect(await rejectionOf(run())).toBe(boom)
  })

  it('throws the failure of a task that fails while being cancelled at block end', async () => {
    const boom = new Error('cleanup failed')
    const run = async (): Promise<void> => {
      await using _scoped = createBackgroundTask(async (signal) => {
        await once(signal, 'abort')
        throw boom
      })
    }
    expect(await rejectionOf(run())).toBe(boom)
  })

  it('does not throw a failure that was already observed (awaited or handled)', async () => {
    const boom = new Error('seen')
    const awaited = async (): Promise<unknown> => {
      await using scoped = createBackgroundTask(async () => {
        throw boom
      })
      return await scoped.then(
        () => 'ok',
        (e: unknown) => e,
      )
    }
    expect(await awaited()).toBe(boom)

    const handled = async (): Promise<void> => {
      await using scoped = createBackgroundTask(async () => {
        throw boom
      })
      scoped.catch(() => {})
    }
    await expect(handled()).resolves.toBeUndefined()
  })

  it('lets the error of `await task` inside the block surface as itself, not a SuppressedError', async () => {
    const boom = new Error('own error')
    const run = async (): Promise<void> => {
      await using scoped = createBackgroundTask(async () => {
        throw boom
      })
      await scoped
    }
    expect(await rejectionOf(run())).toBe(boom)
  })
})

describe('createBackgroundTask: AsyncLocalStorage', () => {
  it("runs work in the caller's context, across awaits", async () => {
    const als = new AsyncLocalStorage<string>()
    const seen: (string | undefined)[] = []
    const gate = deferred()
    const task = als.run('request-1', () =>
      createBackgroundTask(async () => {
        seen.push(als.getStore())
        await gate.promise
        seen.push(als.getStore())
        return als.getStore()
      }),
    )
    await als.run('other', async () => {
      gate.resolve()
      const value = await task
      expect(als.getStore()).toBe('other') // the awaiter resumes in its own context
      expect(value).toBe('request-1')
    })
    expect(seen).toEqual(['request-1', 'request-1'])
  })
})
