// What a task gets and what it answers travel unchanged through the pool's packed envelope
// (protocol.ts: the arguments and the id in one array; a bare value, or `[value]`, for a plain
// answer): arguments of every shape arrive as they were, with and without `grace`, and a task's
// own result comes back as itself, even an array or an object that looks like one of the pool's
// own replies.
import { workerTask } from '@taskscope/core'
import { poolsForEachTest, rejectionOf } from '@taskscope/test-support'
import fc from 'fast-check'
import { describe, expect, it } from 'vitest'

const pool = poolsForEachTest()
const mathTasks = new URL('./fixtures/math-tasks.mjs', import.meta.url)

/** Values structured clone copies faithfully (toEqual after a round trip). */
const cloneable = fc.letrec((tie) => ({
  value: fc.oneof(
    { depthSize: 'small' },
    fc.integer(),
    fc.double({ noNaN: true }),
    fc.constant(Number.NaN),
    fc.string(),
    fc.boolean(),
    fc.constant(null),
    fc.constant(undefined),
    fc.bigInt(),
    fc.array(tie('value'), { maxLength: 3 }),
    fc.dictionary(fc.string(), tie('value'), { maxKeys: 3 }),
  ),
})).value

/** Objects and arrays shaped like what the pool itself sends: a task that returns them gets them back. */
const lookalikes: unknown[] = [
  { ok: false, error: { value: 'not an error of the pool' } },
  { ok: false, stray: { kind: 'unhandled rejection', error: { value: 1 } } },
  { ok: true, value: 1, late: [{ task: 't', kind: 'uncaught exception', error: { value: 2 } }] },
  { ok: true, value: 'wrapped?' },
  [1],
  [[1]],
  [],
  [undefined],
  -1,
  ~0,
]

describe('the packed envelope', () => {
  it('arguments arrive as they were, with and without grace', async () => {
    const p = pool({ maxThreads: 1 })
    await fc.assert(
      fc.asyncProperty(fc.array(cloneable, { maxLength: 5 }), fc.boolean(), async (args, withGrace) => {
        const echoed = await p.run((...received: unknown[]) => received, args, withGrace ? { grace: 1_000 } : undefined)
        expect(echoed).toEqual(args)
      }),
      { numRuns: 60 },
    )
  })

  it('a task’s result comes back as itself, whatever its shape', async () => {
    const p = pool({ maxThreads: 1 })
    await fc.assert(
      fc.asyncProperty(cloneable, async (value) => {
        expect(await p.run((v: unknown) => v, [value])).toEqual(value)
      }),
      { numRuns: 60 },
    )
    for (const value of lookalikes) expect(await p.run((v: unknown) => v, [value])).toEqual(value)
    const identity = workerTask<(v: unknown) => unknown>(mathTasks, 'identity')
    for (const value of lookalikes) expect(await p.run(identity, [value])).toEqual(value)
  })

  it('a result that cannot be cloned still rejects naming the task, bare or not', async () => {
    const p = pool({ maxThreads: 1 })
    for (const make of [() => Symbol('s'), () => [Symbol('s')], () => ({ ok: true, value: () => 1 })]) {
      const error = await rejectionOf(
        p.run(
          function answersUncloneable(f: string) {
            return new Function(`return (${f})()`)()
          },
          [make.toString()],
        ),
      )
      expect(error).toMatchObject({ name: 'TypeError', code: 'ERR_THREADPOOL_DATA_CLONE' })
      expect(error.message).toMatch(/result of the Threadpool task "answersUncloneable" could not be cloned/)
    }
    expect(await p.run((n: number) => n + 1, [1])).toBe(2)
  })
})
