import { AsyncLocalStorage } from 'node:async_hooks'
import { getEventListeners } from 'node:events'
import { performance } from 'node:perf_hooks'
import { AsyncLazy, CancelledError, ShutdownError } from '@taskscope/core'
import { collectUnhandled, type Deferred, deferred, flush, promiseState, rejectionOf } from '@taskscope/test-support'
import { afterEach, describe, expect, it, vi } from 'vitest'

afterEach(() => {
  vi.restoreAllMocks()
})

/** A factory whose computations the test settles one by one. */
function controlledFactory<T>() {
  const runs: { gate: Deferred<T>; signal: AbortSignal }[] = []
  const factory = vi.fn((signal: AbortSignal) => {
    const gate = deferred<T>()
    runs.push({ gate, signal })
    return gate.promise
  })
  return { factory, runs }
}

describe('AsyncLazy: L1 sharing, failures, falsy values', () => {
  it('does not compute until the first get; starts empty', () => {
    const factory = vi.fn(async () => 1)
    const lazy = new AsyncLazy(factory)
    expect(factory).not.toHaveBeenCalled()
    expect(lazy.state).toBe('empty')
    expect(lazy.peek()).toBeUndefined()
  })

  it('shares one computation between concurrent gets, then caches the value', async () => {
    const { factory, runs } = controlledFactory<{ n: number }>()
    const lazy = new AsyncLazy(factory)
    const gets = [lazy.get(), lazy.get(), lazy.get({ signal: new AbortController().signal })]
    expect(factory).toHaveBeenCalledOnce()
    expect(runs[0]!.signal).toBeInstanceOf(AbortSignal)
    expect(lazy.state).toBe('pending')
    expect(lazy.peek()).toBeUndefined()
    const value = { n: 1 }
    runs[0]!.gate.resolve(value)
    const results = await Promise.all(gets)
    expect(results.every((r) => r === value)).toBe(true)
    expect(lazy.state).toBe('ready')
    expect(lazy.peek()).toBe(value)
    expect(await lazy.get()).toBe(value)
    expect(await promiseState(lazy.get())).toBe('fulfilled') // a cached value comes without a computation
    expect(factory).toHaveBeenCalledOnce()
  })

  it('accepts a factory returning a plain value', async () => {
    const lazy = new AsyncLazy(() => 'sync')
    expect(await lazy.get()).toBe('sync')
    expect(lazy.state).toBe('ready')
  })

  it('sends a failure to every waiting caller and does not cache it', async () => {
    const { factory, runs } = controlledFactory<string>()
    const lazy = new AsyncLazy(factory)
    const gets = [lazy.get(), lazy.get(), lazy.get({ signal: new AbortController().signal })]
    const boom = new Error('db down')
    runs[0]!.gate.reject(boom)
    for (const get of gets) expect(await rejectionOf(get)).toBe(boom)
    expect(lazy.state).toBe('empty')
    expect(lazy.peek()).toBeUndefined()

    const retry = lazy.get()
    expect(factory).toHaveBeenCalledTimes(2)
    runs[1]!.gate.resolve('recovered')
    expect(await retry).toBe('recovered')
    expect(lazy.state).toBe('ready')
  })

  it('causes no unhandled rejection when a failure has no caller left', async () => {
    const unhandled = await collectUnhandled(async () => {
      const { factory, runs } = controlledFactory<string>()
      const lazy = new AsyncLazy(factory)
      const controller = new AbortController()
      const get = lazy.get({ signal: controller.signal })
      controller.abort()
      await rejectionOf(get)
      runs[0]!.gate.reject(new Error('nobody listens'))
    })
    expect(unhandled).toEqual([])
  })

  it.each([
    ['0', 0],
    ["''", ''],
    ['null', null],
    ['undefined', undefined],
    ['false', false],
    ['NaN', Number.NaN],
  ])('caches the falsy value %s', async (_label, value) => {
    const factory = vi.fn(async () => value)
    const lazy = new AsyncLazy<unknown>(factory)
    expect(await lazy.get()).toBe(value)
    expect(lazy.state).toBe('ready')
    expect(lazy.peek()).toBe(value)
    expect(await lazy.get()).toBe(value)
    expect(factory).toHaveBeenCalledOnce()
  })

  it('rejects get for a synchronous throw in the factory, and does not cache it', async () => {
    let calls = 0
    const boom = new Error('sync throw')
    const lazy = new AsyncLazy(() => {
      calls++
      if (calls === 1) throw boom
      return 'second time'
    })
    expect(await rejectionOf(lazy.get())).toBe(boom)
    expect(lazy.state).toBe('empty')
    expect(await lazy.get()).toBe('second time')
    expect(calls).toBe(2)
  })

  it('rejects get (never throws) for a synchronous throw in the factory', async () => {
    const boom = new Error('sync throw')
    const lazy = new AsyncLazy(() => {
      throw boom
    })
    let get!: Promise<unknown>
    expect(() => {
      get = lazy.get()
    }).not.toThrow()
    expect(await rejectionOf(get)).toBe(boom)
  })
})

describe('AsyncLazy: L2 reset and ttl', () => {
  it('reset() during a computation: waiting callers get its result, but it is not kept', async () => {
    const { factory, runs } = controlledFactory<string>()
    const lazy = new AsyncLazy(factory)
    const first = lazy.get()
    lazy.reset()
    runs[0]!.gate.resolve('old')
    expect(await first).toBe('old')
    expect(lazy.state).toBe('empty')
    expect(lazy.peek()).toBeUndefined()
    const next = lazy.get()
    expect(factory).toHaveBeenCalledTimes(2)
    runs[1]!.gate.resolve('fresh')
    expect(await next).toBe('fresh')
    expect(lazy.peek()).toBe('fresh')
  })

  it('reset() during a computation: a result arriving after a newer computation does not overwrite it', async () => {
    const { factory, runs } = controlledFactory<string>()
    const lazy = new AsyncLazy(factory)
    const oldGet = lazy.get()
    lazy.reset()
    const newGet = lazy.get()
    expect(factory).toHaveBeenCalledTimes(2)
    runs[1]!.gate.resolve('new')
    expect(await newGet).toBe('new')
    runs[0]!.gate.resolve('old')
    expect(await oldGet).toBe('old')
    expect(lazy.peek()).toBe('new')
    expect(await lazy.get()).toBe('new')
    expect(factory).toHaveBeenCalledTimes(2)
  })

  it('reset() forgets a cached value', async () => {
    let n = 0
    const lazy = new AsyncLazy(async () => ++n)
    expect(await lazy.get()).toBe(1)
    lazy.reset()
    expect(lazy.state).toBe('empty')
    expect(lazy.peek()).toBeUndefined()
    expect(await lazy.get()).toBe(2)
  })

  it('ttl expires the value that long after it was computed (not after it started)', async () => {
    let now = 1_000
    vi.spyOn(performance, 'now').mockImplementation(() => now)
    const { factory, runs } = controlledFactory<string>()
    const lazy = new AsyncLazy(factory, { ttl: 100 })
    const first = lazy.get()
    now = 1_500 // a slow computation: 500 ms
    runs[0]!.gate.resolve('v1')
    expect(await first).toBe('v1')

    now = 1_599
    expect(lazy.state).toBe('ready')
    expect(lazy.peek()).toBe('v1')
    expect(await lazy.get()).toBe('v1')
    expect(factory).toHaveBeenCalledOnce()

    now = 1_601
    expect(lazy.state).toBe('empty')
    expect(lazy.peek()).toBeUndefined()
    const second = lazy.get()
    expect(factory).toHaveBeenCalledTimes(2)
    runs[1]!.gate.resolve('v2')
    expect(await second).toBe('v2')
  })

  it('ttl also works on real time (a tiny ttl, then a longer real timer)', async () => {
    let n = 0
    const lazy = new AsyncLazy(async () => ++n, { ttl: 1 })
    expect(await lazy.get()).toBe(1)
    await new Promise((resolve) => setTimeout(resolve, 20)) // longer than ttl; no timing assert
    expect(lazy.state).toBe('empty')
    expect(await lazy.get()).toBe(2)
  })

  it('without ttl (or ttl Infinity) a value never expires', async () => {
    let now = 0
    vi.spyOn(performance, 'now').mockImplementation(() => now)
    const a = new AsyncLazy(async () => 'a')
    const b = new AsyncLazy(async () => 'b', { ttl: Infinity })
    await a.get()
    await b.get()
    now = 1e12
    expect(a.state).toBe('ready')
    expect(b.state).toBe('ready')
  })
})

describe('AsyncLazy: L3 per-caller signals', () => {
  it("a caller's signal ends only its own wait; a plain caller still gets the value", async () => {
    const { factory, runs } = controlledFactory<string>()
    const lazy = new AsyncLazy(factory)
    const controller = new AbortController()
    const leaving = lazy.get({ signal: controller.signal })
    const staying = lazy.get()
    controller.abort('timeout of this request')
    const error = await rejectionOf(leaving)
    expect(error).toBeInstanceOf(CancelledError)
    expect(error.cause).toBe('timeout of this request')
    expect(runs[0]!.signal.aborted).toBe(false)
    expect(lazy.state).toBe('pending')
    runs[0]!.gate.resolve('value')
    expect(await staying).toBe('value')
    expect(lazy.peek()).toBe('value')
    expect(factory).toHaveBeenCalledOnce()
  })

  it('keeps computing while another caller with a signal still waits', async () => {
    const { factory, runs } = controlledFactory<string>()
    const lazy = new AsyncLazy(factory)
    const c1 = new AbortController()
    const c2 = new AbortController()
    const first = lazy.get({ signal: c1.signal })
    const second = lazy.get({ signal: c2.signal })
    c1.abort()
    await rejectionOf(first)
    expect(runs[0]!.signal.aborted).toBe(false)
    runs[0]!.gate.resolve('for the second')
    expect(await second).toBe('for the second')
    expect(getEventListeners(c2.signal, 'abort')).toHaveLength(0)
  })

  it('uses a CancelledError reason as it is', async () => {
    const lazy = new AsyncLazy(() => new Promise<string>(() => {}))
    const controller = new AbortController()
    const get = lazy.get({ signal: controller.signal })
    const reason = new ShutdownError()
    controller.abort(reason)
    expect(await rejectionOf(get)).toBe(reason)
  })

  it("aborts the factory's signal when every waiting caller left through its own signal; the next get starts afresh", async () => {
    const { factory, runs } = controlledFactory<string>()
    const lazy = new AsyncLazy(factory)
    const c1 = new AbortController()
    const c2 = new AbortController()
    const gets = [lazy.get({ signal: c1.signal }), lazy.get({ signal: c2.signal })].map(rejectionOf)
    c1.abort()
    expect(await gets[0]).toBeInstanceOf(CancelledError)
    expect(runs[0]!.signal.aborted).toBe(false)
    expect(lazy.state).toBe('pending')
    c2.abort()
    expect(await gets[1]).toBeInstanceOf(CancelledError)
    expect(runs[0]!.signal.aborted).toBe(true)
    expect(runs[0]!.signal.reason).toBeInstanceOf(CancelledError)
    expect(lazy.state).toBe('empty')

    const next = lazy.get()
    expect(factory).toHaveBeenCalledTimes(2)
    runs[1]!.gate.resolve('new')
    runs[0]!.gate.resolve('abandoned') // the old computation finishing late is not stored
    expect(await next).toBe('new')
    await flush(1)
    expect(lazy.peek()).toBe('new')
  })

  it('an already-aborted signal rejects at once and starts no computation', async () => {
    const factory = vi.fn(async () => 1)
    const lazy = new AsyncLazy(factory)
    const get = lazy.get({ signal: AbortSignal.abort('early') })
    expect(await promiseState(get)).toBe('rejected')
    const error = await rejectionOf(get)
    expect(error).toBeInstanceOf(CancelledError)
    expect(error.cause).toBe('early')
    expect(factory).not.toHaveBeenCalled()
    expect(lazy.state).toBe('empty')
  })

  it("removes its abort listener from the caller's signal once the value arrives", async () => {
    const { factory, runs } = controlledFactory<number>()
    const lazy = new AsyncLazy(factory)
    const controller = new AbortController()
    const get = lazy.get({ signal: controller.signal })
    expect(getEventListeners(controller.signal, 'abort')).toHaveLength(1)
    runs[0]!.gate.resolve(5)
    expect(await get).toBe(5)
    expect(getEventListeners(controller.signal, 'abort')).toHaveLength(0)
  })
})

describe('AsyncLazy: validation', () => {
  it.each([
    ['a number', 42],
    ['a string', 'factory'],
    ['undefined', undefined],
  ])('throws a TypeError for a factory that is %s', (_label, factory) => {
    let error: any
    try {
      new AsyncLazy(factory as never)
    } catch (e) {
      error = e
    }
    expect(error).toBeInstanceOf(TypeError)
    expect(error.code).toBe('ERR_INVALID_ARG_TYPE')
    expect(error.message).toMatch(/factory/)
  })

  it.each([
    ['-1', -1, RangeError, 'ERR_OUT_OF_RANGE', /ttl.*-1/s],
    ["'x'", 'x', TypeError, 'ERR_INVALID_ARG_TYPE', /ttl.*'x'/s],
    ['NaN', Number.NaN, TypeError, 'ERR_INVALID_ARG_TYPE', /ttl.*NaN/s],
  ])('throws for ttl %s, naming ttl and the value', (_label, ttl, ErrorClass, code, message) => {
    let error: any
    try {
      new AsyncLazy(async () => 1, { ttl } as never)
    } catch (e) {
      error = e
    }
    expect(error).toBeInstanceOf(ErrorClass)
    expect(error.code).toBe(code)
    expect(error.message).toMatch(message)
  })

  it('throws a TypeError for options that are not an object', () => {
    expect(() => new AsyncLazy(async () => 1, 5 as never)).toThrow(TypeError)
  })

  it('rejects get (never throws) for an invalid signal', async () => {
    const factory = vi.fn(async () => 1)
    const lazy = new AsyncLazy(factory)
    const error = await rejectionOf(lazy.get({ signal: 'nope' as never }))
    expect(error).toBeInstanceOf(TypeError)
    expect(error.message).toMatch(/signal/)
    expect(factory).not.toHaveBeenCalled()
  })
})

describe('AsyncLazy: AsyncLocalStorage', () => {
  it("resumes each caller in its own context; the factory runs in the first caller's", async () => {
    const als = new AsyncLocalStorage<string>()
    const gate = deferred<string>()
    let factoryContext: string | undefined
    const lazy = new AsyncLazy(() => {
      factoryContext = als.getStore()
      return gate.promise
    })
    const caller = (name: string, signal?: AbortSignal) =>
      als.run(name, async () => {
        const value = await lazy.get(signal ? { signal } : undefined)
        return `${value}@${als.getStore()}`
      })
    const results = Promise.all([caller('a'), caller('b', new AbortController().signal)])
    als.run('resolver', () => gate.resolve('v'))
    expect(await results).toEqual(['v@a', 'v@b'])
    expect(factoryContext).toBe('a')
  })
})
