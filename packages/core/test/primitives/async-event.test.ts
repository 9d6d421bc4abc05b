import { AsyncLocalStorage } from 'node:async_hooks'
import { getEventListeners, setMaxListeners } from 'node:events'
import { AsyncEvent, CancelledError, ShutdownError, TimeoutError } from '@taskscope/core'
import { collectUnhandled, flush, promiseState, rejectionOf } from '@taskscope/test-support'
import { describe, expect, it } from 'vitest'

describe('AsyncEvent: set, clear, wait (E1)', () => {
  it('starts unset; wait stays pending until set', async () => {
    const event = new AsyncEvent()
    expect(event.isSet).toBe(false)
    const waiting = event.wait()
    expect(await promiseState(waiting)).toBe('pending')
    event.set()
    expect(event.isSet).toBe(true)
    expect(await waiting).toBe(true)
  })

  it('resolves true at once when already set', async () => {
    const event = new AsyncEvent()
    event.set()
    const plain = event.wait()
    const withOptions = event.wait({ signal: new AbortController().signal, timeout: 60_000 })
    expect(await promiseState(plain)).toBe('fulfilled')
    expect(await promiseState(withOptions)).toBe('fulfilled')
    expect(await plain).toBe(true)
    expect(await withOptions).toBe(true)
    expect(event.waiting).toBe(0)
  })

  it('set wakes every waiter: plain ones, ones with a signal and ones with a timeout', async () => {
    const event = new AsyncEvent()
    const controller = new AbortController()
    const waits = [
      event.wait(),
      event.wait(),
      event.wait({ signal: controller.signal }),
      event.wait({ signal: new AbortController().signal }),
      event.wait({ timeout: 60_000 }),
    ]
    expect(event.waiting).toBe(5) // every pending wait counts
    event.set()
    expect(await Promise.all(waits)).toEqual([true, true, true, true, true])
    expect(event.waiting).toBe(0)
    expect(getEventListeners(controller.signal, 'abort')).toHaveLength(0)
  })

  it('clear() does not un-wake waiters already woken', async () => {
    const event = new AsyncEvent()
    const waits = [event.wait(), event.wait({ signal: new AbortController().signal }), event.wait({ timeout: 60_000 })]
    event.set()
    event.clear()
    expect(event.isSet).toBe(false)
    expect(await Promise.all(waits)).toEqual([true, true, true])
  })

  it('after clear(), new waits wait again until the next set()', async () => {
    const event = new AsyncEvent()
    event.set()
    event.clear()
    const again = event.wait()
    const againWithSignal = event.wait({ signal: new AbortController().signal })
    expect(await promiseState(again)).toBe('pending')
    expect(await promiseState(againWithSignal)).toBe('pending')
    expect(event.waiting).toBe(2)
    event.set()
    event.set() // idempotent
    expect(await again).toBe(true)
    expect(await againWithSignal).toBe(true)
  })
})

describe('AsyncEvent: cancellation and timeout', () => {
  it('a wait whose signal aborts rejects with CancelledError (cause = reason) and is removed; others still wake', async () => {
    const event = new AsyncEvent()
    const controller = new AbortController()
    const cancelled = event.wait({ signal: controller.signal })
    const other = event.wait({ signal: new AbortController().signal })
    expect(event.waiting).toBe(2)
    controller.abort('user left')
    const error = await rejectionOf(cancelled)
    expect(error).toBeInstanceOf(CancelledError)
    expect(error.cause).toBe('user left')
    expect(event.waiting).toBe(1)
    expect(getEventListeners(controller.signal, 'abort')).toHaveLength(0)
    event.set()
    expect(await other).toBe(true)
  })

  it('uses a CancelledError reason as it is', async () => {
    const event = new AsyncEvent()
    const controller = new AbortController()
    const waiting = event.wait({ signal: controller.signal })
    const reason = new ShutdownError()
    controller.abort(reason)
    expect(await rejectionOf(waiting)).toBe(reason)
  })

  it('an already-aborted signal rejects at once, even when the event is set, and registers nothing', async () => {
    const event = new AsyncEvent()
    const signal = AbortSignal.abort('earlier')
    const waiting = event.wait({ signal })
    expect(await promiseState(waiting)).toBe('rejected')
    const error = await rejectionOf(waiting)
    expect(error).toBeInstanceOf(CancelledError)
    expect(error.cause).toBe('earlier')
    expect(event.waiting).toBe(0)
    event.set()
    expect(await promiseState(event.wait({ signal }))).toBe('rejected')
  })

  it('timeout rejects with TimeoutError, removes the wait and its abort listener', async () => {
    const event = new AsyncEvent()
    const controller = new AbortController()
    const waiting = event.wait({ timeout: 1, signal: controller.signal })
    expect(event.waiting).toBe(1)
    expect(getEventListeners(controller.signal, 'abort')).toHaveLength(1)
    const error = await rejectionOf(waiting)
    expect(error).toBeInstanceOf(TimeoutError)
    expect(error.code).toBe('ERR_TIMEOUT')
    expect(event.waiting).toBe(0)
    expect(getEventListeners(controller.signal, 'abort')).toHaveLength(0)
  })

  it("removes the abort listener from the caller's signal once the wait is woken by set()", async () => {
    const event = new AsyncEvent()
    const controller = new AbortController()
    const waiting = event.wait({ signal: controller.signal })
    expect(getEventListeners(controller.signal, 'abort')).toHaveLength(1)
    event.set()
    await waiting
    expect(getEventListeners(controller.signal, 'abort')).toHaveLength(0)
    controller.abort() // a late abort changes nothing
    expect(await waiting).toBe(true)
  })

  // Counts are chosen to run fast: each wait creates an Error when it ends (~5 µs with its stack),
  // and Node's EventTarget makes adding N listeners to ONE signal cost O(N^2).
  it('leaves nothing behind after 2,000 aborted waits on one long-lived signal', async () => {
    const event = new AsyncEvent()
    const controller = new AbortController()
    setMaxListeners(0, controller.signal) // the caller's choice: many waits share its signal
    const count = 2_000
    const unhandled = await collectUnhandled(async () => {
      const waits: Promise<true>[] = []
      for (let i = 0; i < count; i++) waits.push(event.wait({ signal: controller.signal }))
      expect(event.waiting).toBe(count)
      expect(getEventListeners(controller.signal, 'abort')).toHaveLength(count)
      controller.abort()
      const results = await Promise.allSettled(waits)
      expect(results.every((r) => r.status === 'rejected' && r.reason instanceof CancelledError)).toBe(true)
    })
    expect(unhandled).toEqual([])
    expect(event.waiting).toBe(0)
    expect(getEventListeners(controller.signal, 'abort')).toHaveLength(0)
  })

  it('leaves nothing behind after 10,000 timed-out waits', async () => {
    const event = new AsyncEvent()
    const count = 10_000
    const waits: Promise<true>[] = []
    for (let i = 0; i < count; i++) waits.push(event.wait({ timeout: 0 }))
    expect(event.waiting).toBe(count)
    const results = await Promise.allSettled(waits)
    expect(results.every((r) => r.status === 'rejected' && r.reason instanceof TimeoutError)).toBe(true)
    expect(event.waiting).toBe(0)
  })

  it('leaves nothing behind after 3,000 waits cancelled through their own signals, the plain wait still works', async () => {
    const event = new AsyncEvent()
    const controllers = Array.from({ length: 3_000 }, () => new AbortController())
    const waits = controllers.map((c) => event.wait({ signal: c.signal }))
    const plain = event.wait()
    expect(event.waiting).toBe(3_001)
    for (const c of controllers) c.abort()
    await Promise.allSettled(waits)
    expect(event.waiting).toBe(1) // only the plain waits remain
    expect(controllers.every((c) => getEventListeners(c.signal, 'abort').length === 0)).toBe(true)
    event.set()
    expect(await plain).toBe(true)
    expect(event.waiting).toBe(0)
  })

  it.each([
    ['a negative timeout', { timeout: -1 }, RangeError, /timeout.*-1/s],
    ['a string timeout', { timeout: '10' }, TypeError, /timeout/],
    ['a NaN timeout', { timeout: Number.NaN }, TypeError, /timeout/],
    ['a signal that is not an AbortSignal', { signal: { aborted: false } }, TypeError, /signal/],
    ['options that are not an object', 42, TypeError, /42/],
  ])('rejects (never throws) for %s', async (_label, options, ErrorClass, message) => {
    const event = new AsyncEvent()
    let waiting!: Promise<true>
    expect(() => {
      waiting = event.wait(options as never)
    }).not.toThrow()
    const error = await rejectionOf(waiting)
    expect(error).toBeInstanceOf(ErrorClass)
    expect(error.message).toMatch(message)
    expect(error.code).toMatch(/^ERR_/)
    expect(event.waiting).toBe(0)
  })
})

describe('AsyncEvent: AsyncLocalStorage', () => {
  it('resumes every waiter in its own context, whoever calls set()', async () => {
    const als = new AsyncLocalStorage<string>()
    const event = new AsyncEvent()
    const seen: Record<string, string | undefined> = {}
    const waiter = (name: string, options?: { signal?: AbortSignal; timeout?: number }) =>
      als.run(name, async () => {
        await event.wait(options)
        seen[name] = als.getStore()
      })
    const done = [
      waiter('plain-1'),
      waiter('plain-2'),
      waiter('with-signal', { signal: new AbortController().signal }),
      waiter('with-timeout', { timeout: 60_000 }),
    ]
    await flush(1)
    als.run('setter', () => event.set())
    await Promise.all(done)
    expect(seen).toEqual({
      'plain-1': 'plain-1',
      'plain-2': 'plain-2',
      'with-signal': 'with-signal',
      'with-timeout': 'with-timeout',
    })
  })

  it('resumes a cancelled waiter in its own context', async () => {
    const als = new AsyncLocalStorage<string>()
    const event = new AsyncEvent()
    const controller = new AbortController()
    const done = als.run('waiter', async () => {
      await event.wait({ signal: controller.signal }).catch(() => {})
      return als.getStore()
    })
    als.run('aborter', () => controller.abort())
    expect(await done).toBe('waiter')
  })
})

describe('AsyncEvent: order and count of waiters', () => {
  it('wakes waiters in the order they began waiting, with or without a signal or a timeout', async () => {
    const event = new AsyncEvent()
    const woken: number[] = []
    const kinds = [
      { signal: new AbortController().signal },
      undefined,
      { timeout: 60_000 },
      undefined,
      undefined,
      { signal: new AbortController().signal, timeout: 60_000 },
      undefined,
    ]
    const waits = kinds.map((options, i) => event.wait(options).then(() => void woken.push(i)))
    event.set()
    await Promise.all(waits)
    expect(woken).toEqual([0, 1, 2, 3, 4, 5, 6])
  })

  it('keeps the order when a waiter between two plain waits is cancelled', async () => {
    const event = new AsyncEvent()
    const woken: string[] = []
    const controller = new AbortController()
    const first = event.wait().then(() => void woken.push('first'))
    const cancelled = event.wait({ signal: controller.signal })
    controller.abort()
    await rejectionOf(cancelled)
    const second = event.wait({ timeout: 60_000 }).then(() => void woken.push('second'))
    const third = event.wait().then(() => void woken.push('third'))
    event.set()
    await Promise.all([first, second, third])
    expect(woken).toEqual(['first', 'second', 'third'])
  })

  it('`waiting` counts every pending wait, plain ones included, and forgets cancelled ones', async () => {
    const event = new AsyncEvent()
    const controller = new AbortController()
    const waits = [event.wait(), event.wait()]
    expect(event.waiting).toBe(2)
    const cancelled = event.wait({ signal: controller.signal })
    waits.push(event.wait())
    expect(event.waiting).toBe(4)
    controller.abort()
    await rejectionOf(cancelled)
    expect(event.waiting).toBe(3)
    event.set()
    expect(event.waiting).toBe(0)
    await Promise.all(waits)
  })

  it('leaves nothing behind after 10,000 waits aborted one by one next to a pending plain wait', async () => {
    const event = new AsyncEvent()
    const plain = event.wait()
    const noop = (): void => {}
    for (let i = 0; i < 10_000; i++) {
      const controller = new AbortController()
      event.wait({ signal: controller.signal }).catch(noop)
      controller.abort()
    }
    expect(event.waiting).toBe(1)
    event.set()
    expect(await plain).toBe(true)
    expect(event.waiting).toBe(0)
  })
})
