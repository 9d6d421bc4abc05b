// Type tests of the Threadpool API, checked by `tsc -p tsconfig.json` (never run).

import {
  getThreadpool,
  runInThreadpool,
  Threadpool,
  type ThreadpoolStats,
  type ThreadpoolTaskContext,
  type ThreadpoolThreadStats,
  type WorkerTask,
  workerTask,
} from '@taskscope/core'
import { expectTypeOf } from 'vitest'

declare const pool: Threadpool
const url = new URL('./fixtures/math-tasks.mjs', import.meta.url)

// A module's export: argument and result types come from the function's type.
const add = workerTask<typeof import('./fixtures/math-tasks.mjs').add>(url, 'add')
expectTypeOf(add).toEqualTypeOf<WorkerTask<(a: number, b: number) => number>>()
expectTypeOf(pool.run(add, [1, 2])).toEqualTypeOf<Promise<number>>()
// @ts-expect-error: wrong argument types
void pool.run(add, ['1', 2])
// @ts-expect-error: missing argument
void pool.run(add, [1])

const scaled = workerTask<typeof import('./fixtures/math-tasks.mjs').scaled>(url, 'scaled')
expectTypeOf(pool.run(scaled, [2])).toEqualTypeOf<Promise<number>>() // awaited, not Promise<Promise<number>>
expectTypeOf(workerTask<typeof import('./fixtures/math-tasks.mjs').default>(url)).toEqualTypeOf<WorkerTask<(x: number) => number>>()

// A shipped function.
expectTypeOf(pool.run((a: number, b: string) => `${b}${a}`, [1, 'x'])).toEqualTypeOf<Promise<string>>()
expectTypeOf(pool.run(async (n: number) => [n], [1])).toEqualTypeOf<Promise<number[]>>()
// @ts-expect-error: wrong argument type for the function
void pool.run((a: number) => a, ['one'])
// @ts-expect-error: args must be an array
void pool.run((a: number) => a, 1)
// @ts-expect-error: unknown option
void pool.run((a: number) => a, [1], { retries: 2 })
void pool.run((a: ArrayBuffer) => a.byteLength, [new ArrayBuffer(1)], {
  signal: AbortSignal.timeout(10),
  timeout: 5,
  transfer: [new ArrayBuffer(1)],
})

// Cooperative cancellation: a function typed with `this: ThreadpoolTaskContext` runs, `grace` is a number.
async function cooperative(this: ThreadpoolTaskContext, ms: number): Promise<boolean> {
  await new Promise((resolve) => setTimeout(resolve, ms))
  return this.signal.aborted
}
expectTypeOf(pool.run(cooperative, [5], { signal: AbortSignal.timeout(10), grace: 100 })).toEqualTypeOf<Promise<boolean>>()
expectTypeOf(pool.run(workerTask<typeof cooperative>(url, 'cooperative'), [5], { timeout: 5, grace: Infinity })).toEqualTypeOf<
  Promise<boolean>
>()
// @ts-expect-error: grace is a number of milliseconds
void pool.run(cooperative, [5], { grace: '1s' })

// The seed's form on the shared pool.
expectTypeOf(runInThreadpool((a: number, b: number) => a + b, 1, 2)).toEqualTypeOf<Promise<number>>()
expectTypeOf(runInThreadpool(add, 1, 2)).toEqualTypeOf<Promise<number>>()
// @ts-expect-error: wrong argument type
void runInThreadpool((a: number, b: number) => a + b, 1, '2')
expectTypeOf(getThreadpool()).toEqualTypeOf<Threadpool>()

// Stats, options, disposal.
expectTypeOf(pool.stats()).toEqualTypeOf<ThreadpoolStats>()
expectTypeOf(pool.stats().runTime.p99).toBeNumber()
expectTypeOf(pool.threadStats()).toEqualTypeOf<Promise<ThreadpoolThreadStats[]>>()
expectTypeOf(pool.close({ timeout: 1 })).toEqualTypeOf<Promise<void>>()
expectTypeOf(pool.destroy()).toEqualTypeOf<Promise<void>>()
expectTypeOf(pool).toMatchTypeOf<AsyncDisposable>()
expectTypeOf(pool.options.maxQueue).toBeNumber()
// @ts-expect-error: unknown pool option
void new Threadpool({ threads: 2 })
