import { AsyncLocalStorage } from 'node:async_hooks'
import { getEventListeners } from 'node:events'
import { CancelledError, firstSuccessful, runUntilFirstComplete, TimeoutError } from '@taskscope/core'
import { collectUnhandled, type Deferred, deferred, promiseState, rejectionOf } from '@taskscope/test-support'
import { describe, expect, it, vi } from 'vitest'

/** An entry controlled from the test: records its signal; settles when the test says so. */
function contestant<T = unknown>(): {
  entry: (signal: AbortSignal) => Promise<T>
  gate: Deferred<T>
  signal: () => AbortSignal
  calls: number
} {
  const gate = deferred<T>()
  const state = {
    gate,
    calls: 0,
    seen: undefined as AbortSignal | undefined,
    entry: (signal: AbortSignal) => {
      state.calls++
      state.seen = signal
      return gate.promise
    },
    signal: () => state.seen!,
  }
  return state
}

const never = (): Promise<never> => new Promise(() => {})

describe('runUntilFirstComplete', () => {
  it('R1: the first entry to fulfil decides with its value', async () => {
    const a = contestant<string>()
    const b = contestant<string>()
    const c = contestant<string>()
    const race = runUntilFirstComplete(a.entry, b.entry, c.entry)
    expect(await promiseState(race)).toBe('pending')
    b.gate.resolve('b')
    expect(await race).toBe('b')
    expect([a.calls, b.calls, c.calls]).toEqual([1, 1, 1])
  })

  it('R1: the first entry to reject decides with its error, even if another would fulfil', async () => {
    const a = contestant<string>()
    const b = contestant<string>()
    const race = runUntilFirstComplete(a.entry, b.entry)
    const boom = new Error('first to settle')
    a.gate.reject(boom)
    const error = await rejectionOf(race)
    b.gate.resolve('too late')
    expect(error).toBe(boom)
  })

  it('calls each entry with its signal, and a [fn, arg] entry as fn(arg, signal)', async () => {
    const fetchFrom = vi.fn((url: string, signal: AbortSignal) => {
      expect(signal).toBeInstanceOf(AbortSignal)
      return new Promise<string>(() => {})
    })
    const primary = vi.fn((signal: AbortSignal) => {
      expect(signal).toBeInstanceOf(AbortSignal)
      return Promise.resolve('primary')
    })
    expect(await runUntilFirstComplete(primary, [fetchFrom, 'https://backup'])).toBe('primary')
    expect(fetchFrom).toHaveBeenCalledOnce()
    expect(fetchFrom.mock.calls[0]![0]).toBe('https://backup')
    expect(fetchFrom.mock.calls[0]![1]).toBeInstanceOf(AbortSignal)
    expect(fetchFrom.mock.calls[0]![1].aborted).toBe(true) // a loser
  })

  it('a [fn, arg] entry can win', async () => {
    const double = async (n: number): Promise<number> => n * 2
    expect(await runUntilFirstComplete([double, 21], never)).toBe(42)
  })

  it('accepts entries that return plain values', async () => {
    expect(await runUntilFirstComplete(() => 'sync', never)).toBe('sync')
  })

  it('counts a synchronous throw in an entry as its rejection (never a synchronous throw)', async () => {
    const boom = new Error('sync throw')
    let race!: Promise<unknown>
    expect(() => {
      race = runUntilFirstComplete(never, () => {
        throw boom
      })
    }).not.toThrow()
    expect(await rejectionOf(race)).toBe(boom)
  })

  it('R3: aborts every loser with a CancelledError as soon as the winner is known, without waiting for losers', async () => {
    const winner = contestant<string>()
    const loser1 = contestant<string>()
    const loser2 = contestant<string>()
    const aborted: string[] = []
    const race = runUntilFirstComplete(winner.entry, loser1.entry, loser2.entry)
    loser1.signal().addEventListener('abort', () => aborted.push('loser1'))
    loser2.signal().addEventListener('abort', () => aborted.push('loser2'))
    expect(loser1.signal().aborted).toBe(false)
    winner.gate.resolve('win')
    const value = await race // losers never settle: the race must not wait for them
    expect(value).toBe('win')
    expect(aborted.sort()).toEqual(['loser1', 'loser2'])
    for (const loser of [loser1, loser2]) {
      expect(loser.signal().reason).toBeInstanceOf(CancelledError)
    }
  })

  it('R3: aborts losers when the winner is an error too', async () => {
    const a = contestant()
    const b = contestant()
    const race = runUntilFirstComplete(a.entry, b.entry)
    a.gate.reject(new Error('x'))
    await rejectionOf(race)
    expect(b.signal().aborted).toBe(true)
    expect(b.signal().reason).toBeInstanceOf(CancelledError)
  })

  it("R3: losers' later rejections cause no unhandled rejection", async () => {
    const unhandled = await collectUnhandled(async () => {
      const a = contestant<string>()
      const b = contestant<string>()
      const c = contestant<string>()
      const race = runUntilFirstComplete(a.entry, b.entry, c.entry)
      a.gate.resolve('win')
      expect(await race).toBe('win')
      b.gate.reject(b.signal().reason)
      c.gate.reject(new Error('loser failed later'))
    })
    expect(unhandled).toEqual([])
  })

  it('takes { signal } as a last argument: its abort rejects with CancelledError (cause = reason) and aborts every entry', async () => {
    const controller = new AbortController()
    const a = contestant()
    const b = contestant()
    const race = runUntilFirstComplete(a.entry, b.entry, { signal: controller.signal })
    controller.abort('client left')
    const error = await rejectionOf(race)
    expect(error).toBeInstanceOf(CancelledError)
    expect(error.cause).toBe('client left')
    expect(a.signal().aborted).toBe(true)
    expect(b.signal().aborted).toBe(true)
    expect(a.signal().reason).toBeInstanceOf(CancelledError)
  })

  it('rejects at once for an already-aborted signal, without calling any entry', async () => {
    const a = contestant()
    const race = runUntilFirstComplete(a.entry, { signal: AbortSignal.abort('gone') })
    expect(await promiseState(race)).toBe('rejected')
    const error = await rejectionOf(race)
    expect(error).toBeInstanceOf(CancelledError)
    expect(error.cause).toBe('gone')
    expect(a.calls).toBe(0)
  })

  it('removes its listener from the parent signal once decided', async () => {
    const controller = new AbortController()
    const race = runUntilFirstComplete(async () => 1, never, { signal: controller.signal })
    expect(await race).toBe(1)
    expect(getEventListeners(controller.signal, 'abort')).toHaveLength(0)
  })

  it('rejects with TimeoutError past { timeout } and aborts every entry', async () => {
    const a = contestant()
    const race = runUntilFirstComplete(a.entry, never, { timeout: 1 })
    const error = await rejectionOf(race)
    expect(error).toBeInstanceOf(TimeoutError)
    expect(error.code).toBe('ERR_TIMEOUT')
    expect(a.signal().aborted).toBe(true)
    expect(a.signal().reason).toBeInstanceOf(CancelledError)
  })

  it.each([
    ['no entries', [] as unknown[]],
    ['a number entry', [42]],
    ['a string entry after a valid one', [async () => 1, 'nope']],
    ['a [non-function, arg] pair', [[42, 'arg']]],
    ['a one-element array', [[async () => 1]]],
    ['only an options object', [{ timeout: 10 }]],
  ])('rejects (never throws) with a TypeError for %s', async (_label, args) => {
    let race!: Promise<unknown>
    expect(() => {
      race = (runUntilFirstComplete as (...args: unknown[]) => Promise<unknown>)(...args)
    }).not.toThrow()
    const error = await rejectionOf(race)
    expect(error).toBeInstanceOf(TypeError)
    expect(error.code).toBe('ERR_INVALID_ARG_TYPE')
  })

  it('rejects with a RangeError/TypeError for invalid options', async () => {
    const negative = await rejectionOf(runUntilFirstComplete(never, { timeout: -1 }))
    expect(negative).toBeInstanceOf(RangeError)
    expect(negative.message).toMatch(/timeout/)
    expect(negative.message).toMatch(/-1/)
    const badSignal = await rejectionOf(runUntilFirstComplete(never, { signal: 'x' as never }))
    expect(badSignal).toBeInstanceOf(TypeError)
    expect(badSignal.message).toMatch(/signal/)
  })

  it("calls entries in the caller's AsyncLocalStorage context", async () => {
    const als = new AsyncLocalStorage<string>()
    const seen: (string | undefined)[] = []
    const value = await als.run('ctx', () =>
      runUntilFirstComplete(async () => {
        seen.push(als.getStore())
        await Promise.resolve()
        seen.push(als.getStore())
        return 'v'
      }),
    )
    expect(value).toBe('v')
    expect(seen).toEqual(['ctx', 'ctx'])
  })
})

describe('firstSuccessful', () => {
  it('R2: the first entry to fulfil wins, even after others rejected', async () => {
    const a = contestant<string>()
    const b = contestant<string>()
    const c = contestant<string>()
    const race = firstSuccessful([a.entry, b.entry, c.entry])
    a.gate.reject(new Error('primary down'))
    expect(await promiseState(race)).toBe('pending')
    c.gate.resolve('c')
    expect(await race).toBe('c')
  })

  it('R2: when all fail, rejects with an AggregateError of their errors in entry order', async () => {
    const a = contestant()
    const b = contestant()
    const c = contestant()
    const race = firstSuccessful([a.entry, b.entry, c.entry])
    const errors = [new Error('a'), new Error('b'), new Error('c')]
    c.gate.reject(errors[2])
    a.gate.reject(errors[0])
    expect(await promiseState(race)).toBe('pending')
    b.gate.reject(errors[1])
    const error = await rejectionOf(race)
    expect(error).toBeInstanceOf(AggregateError)
    expect(error.errors).toEqual(errors)
    expect(error.errors[0]).toBe(errors[0])
    expect(error.errors[2]).toBe(errors[2])
  })

  it('counts a synchronous throw as a failure and keeps racing', async () => {
    const boom = new Error('sync')
    const race = firstSuccessful([
      () => {
        throw boom
      },
      async () => 'second',
    ])
    expect(await race).toBe('second')
    const all = await rejectionOf(
      firstSuccessful([
        () => {
          throw boom
        },
      ]),
    )
    expect(all).toBeInstanceOf(AggregateError)
    expect(all.errors).toEqual([boom])
  })

  it('supports [fn, arg] entries', async () => {
    const lookup = vi.fn(async (key: string, signal: AbortSignal) => {
      expect(signal).toBeInstanceOf(AbortSignal)
      return `value of ${key}`
    })
    expect(await firstSuccessful([[lookup, 'k']])).toBe('value of k')
    expect(lookup).toHaveBeenCalledWith('k', expect.any(AbortSignal))
  })

  it('R2: past timeout rejects with TimeoutError and aborts every entry', async () => {
    const a = contestant()
    const b = contestant()
    const race = firstSuccessful([a.entry, b.entry], { timeout: 1 })
    a.gate.reject(new Error('failed before the deadline'))
    const error = await rejectionOf(race)
    expect(error).toBeInstanceOf(TimeoutError)
    expect(b.signal().aborted).toBe(true)
    expect(b.signal().reason).toBeInstanceOf(CancelledError)
  })

  it('R3: aborts losers with a CancelledError as soon as the winner is known, and does not wait for them', async () => {
    const winner = contestant<string>()
    const loser = contestant<string>()
    const race = firstSuccessful([loser.entry, winner.entry])
    winner.gate.resolve('w')
    expect(await race).toBe('w')
    expect(loser.signal().aborted).toBe(true)
    expect(loser.signal().reason).toBeInstanceOf(CancelledError)
  })

  it("R3: losers' later rejections cause no unhandled rejection", async () => {
    const unhandled = await collectUnhandled(async () => {
      const winner = contestant<string>()
      const losers = [contestant<string>(), contestant<string>()]
      const race = firstSuccessful([winner.entry, ...losers.map((l) => l.entry)])
      winner.gate.resolve('w')
      expect(await race).toBe('w')
      losers[0]!.gate.reject(new Error('late 1'))
      losers[1]!.gate.reject(losers[1]!.signal().reason)
    })
    expect(unhandled).toEqual([])
  })

  it('a parent signal aborting rejects with CancelledError (cause = reason) and aborts every entry', async () => {
    const controller = new AbortController()
    const a = contestant()
    const race = firstSuccessful([a.entry], { signal: controller.signal })
    const reason = new Error('shutting down')
    controller.abort(reason)
    const error = await rejectionOf(race)
    expect(error).toBeInstanceOf(CancelledError)
    expect(error.cause).toBe(reason)
    expect(a.signal().aborted).toBe(true)
    expect(getEventListeners(controller.signal, 'abort')).toHaveLength(0)
  })

  it('an already-aborted parent signal rejects at once without calling entries', async () => {
    const a = contestant()
    const race = firstSuccessful([a.entry], { signal: AbortSignal.abort('before') })
    expect(await promiseState(race)).toBe('rejected')
    const error = await rejectionOf(race)
    expect(error).toBeInstanceOf(CancelledError)
    expect(error.cause).toBe('before')
    expect(a.calls).toBe(0)
  })

  it.each([
    ['an empty array', []],
    ['a function instead of an array', async () => 1],
    ['an array with a number', [42]],
    ['a [non-function, arg] pair', [['x', 1]]],
  ])('rejects (never throws) with a TypeError for %s', async (_label, entries) => {
    let race!: Promise<unknown>
    expect(() => {
      race = firstSuccessful(entries as never)
    }).not.toThrow()
    const error = await rejectionOf(race)
    expect(error).toBeInstanceOf(TypeError)
  })

  it('rejects with RangeError for a negative timeout', async () => {
    const error = await rejectionOf(firstSuccessful([never], { timeout: -1 }))
    expect(error).toBeInstanceOf(RangeError)
    expect(error.message).toMatch(/timeout.*-1/s)
  })
})
