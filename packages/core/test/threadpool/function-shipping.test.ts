// P1: functions shipped by source to the pool's worker threads (real threads, the built package).

import { poolsForEachTest, rejectionOf } from '@taskscope/test-support'
import { describe, expect, it } from 'vitest'

const pool = poolsForEachTest()

/** A fixture module loaded by URL, so that TypeScript does not look for its types. */
async function fixture(name: string): Promise<Record<string, any>> {
  return import(new URL(`./fixtures/${name}`, import.meta.url).href)
}

describe('shapes of functions', () => {
  it('runs arrow functions, async functions, function expressions and declarations', async () => {
    const p = pool()
    async function declared(x: number): Promise<number> {
      await new Promise((resolve) => setTimeout(resolve, 1))
      return x + 1
    }
    expect(await p.run((a: number, b: number) => a * b, [6, 7])).toBe(42)
    expect(await p.run(async (s: string) => s.toUpperCase(), ['hi'])).toBe('HI')
    expect(
      await p.run(
        function named(n: number) {
          return n - 1
        },
        [1],
      ),
    ).toBe(0)
    expect(await p.run(declared, [1])).toBe(2)
  })

  it('runs method shorthand, whose source (m(x) {…}) is not an expression', async () => {
    const p = pool()
    const methods = {
      triple(x: number) {
        return x * 3
      },
      async later(x: number) {
        return x
      },
      ['computed' + 'Key'](x: number) {
        return -x
      },
    }
    expect(String(methods.triple)).toMatch(/^triple\(/)
    expect(await p.run(methods.triple, [2])).toBe(6)
    expect(await p.run(methods.later, [5])).toBe(5)
    expect(await p.run(methods.computedKey, [5])).toBe(-5)
  })

  it('runs functions compiled by tsc for ES2022', async () => {
    const p = pool()
    const { wordStats, delayedSum } = await fixture('tsc-es2022.mjs')
    expect(await p.run(wordStats, ['a bb ccc', 2])).toEqual({ count: 2, mean: 2.5 })
    expect(await p.run(delayedSum, [[1, 2, 3], 1])).toBe(6)
  })

  it('runs functions compiled by esbuild with keepNames: __name calls, also inside their bodies', async () => {
    const p = pool()
    const { score, slowDouble, tools } = await fixture('esbuild-keep-names.mjs')
    expect(String(score)).toContain('__name(')
    expect(String(slowDouble)).toContain('__name(')
    expect(await p.run(score, [['abcd', 'ab']])).toBe(8 + 1 + 4)
    expect(await p.run(slowDouble, [21])).toBe(42)
    expect(await p.run(tools.triple, [3])).toBe(9)
  })

  it('runs a function that imports what it needs (also as rewritten by Vitest in this file)', async () => {
    const p = pool()
    const threadOf = async (): Promise<number> => (await import('node:worker_threads')).threadId
    expect(await p.run(threadOf, [])).toBeGreaterThan(0)
  })

  it('lets a recursive arrow function call itself by the name it had', async () => {
    const p = pool()
    const factorial = (n: number): number => (n <= 1 ? 1 : n * factorial(n - 1))
    expect(await p.run(factorial, [5])).toBe(120)
  })
})

describe('compiled once per thread, cached by id', () => {
  it('reuses the compiled function: state on it survives between calls', async () => {
    const p = pool()
    function counter(): number {
      const self = counter as typeof counter & { calls?: number }
      self.calls = (self.calls ?? 0) + 1
      return self.calls
    }
    // One thread: if the source were compiled per call, every call would return 1.
    expect([await p.run(counter, []), await p.run(counter, []), await p.run(counter, [])]).toEqual([1, 2, 3])
  })

  it('runs many different functions side by side on several threads', async () => {
    const p = pool({ maxThreads: 2 })
    const results = await Promise.all(
      Array.from({ length: 20 }, (_, i) => (i % 2 === 0 ? p.run((x: number) => x + 1, [i]) : p.run((x: number) => x * 10, [i]))),
    )
    expect(results).toEqual(Array.from({ length: 20 }, (_, i) => (i % 2 === 0 ? i + 1 : i * 10)))
  })
})

describe('functions that cannot be shipped', () => {
  it('explains a function that reads an outer variable, naming it, with the ReferenceError as cause', async () => {
    const p = pool()
    const rate = 3
    const applyRate = (x: number): number => x * rate
    const error = await rejectionOf(p.run(applyRate, [2]))
    expect(error).toBeInstanceOf(ReferenceError)
    expect(error.code).toBe('ERR_THREADPOOL_NOT_SELF_CONTAINED')
    expect(error.message).toContain('"applyRate"')
    expect(error.message).toContain('"rate"')
    expect(error.message).toContain('self-contained')
    expect(error.cause).toBeInstanceOf(ReferenceError)
    expect(error.cause.message).toBe('rate is not defined')
    // The pool keeps working.
    expect(await p.run((x: number) => x, [1])).toBe(1)
  })

  it('leaves a ReferenceError the function throws on purpose as it is', async () => {
    const p = pool()
    const error = await rejectionOf(
      p.run(() => {
        throw new ReferenceError('mine')
      }, []),
    )
    expect(error).toBeInstanceOf(ReferenceError)
    expect(error.message).toBe('mine')
    expect(error.code).toBeUndefined()
  })

  it('refuses bound, native and class values up front, before any thread is involved', async () => {
    const p = pool({ minThreads: 0 })
    function add(a: number, b: number): number {
      return a + b
    }
    for (const value of [add.bind(null, 1), Math.max, [].push, class Shape {}]) {
      const result = p.run(value as (...args: number[]) => number, [1])
      const error = await rejectionOf(result)
      expect(error).toBeInstanceOf(TypeError)
      expect(error.code).toBe('ERR_INVALID_ARG_VALUE')
    }
    expect((await rejectionOf(p.run(add.bind(null, 1), [2]))).message).toMatch(/bound function "bound add"/)
    expect((await rejectionOf(p.run(Math.max, [2]))).message).toMatch(/native function "max"/)
    expect(p.stats().threads).toBe(0)
  })
})
