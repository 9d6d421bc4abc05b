// Every task ends: work whose result is hostile (a revoked Proxy, a throwing `then` getter, a Proxy
// whose `get` trap throws, thenables that call back twice, late or never) never leaves a task that
// the group counts but cannot end. `cancel()` or a timeout always ends the group, unless the work
// itself never settles (a thenable whose `then` never calls back is `new Promise(() => {})`).
import { CancelledError, TaskGroup, TimeoutError } from '@taskscope/core'
import fc from 'fast-check'
import { describe, expect, it } from 'vitest'

/** A Proxy that has been revoked: every operation on it throws a TypeError (an Immer draft after `produce()`). */
function revoked(): object {
  const { proxy, revoke } = Proxy.revocable({}, {})
  revoke()
  return proxy
}

class ThenGetterError extends Error {}

/** An object whose `then` is `then` (a thenable, made without an object literal holding `then`). */
function thenable(then: (resolve: (value: unknown) => void, reject: (error: unknown) => void) => void): object {
  return Object.defineProperty({}, 'then', { value: then, enumerable: true })
}

/** The hostile values whose `then` cannot be read, each with the error reading it throws. */
const unreadable: Array<[string, () => unknown, (error: unknown) => boolean]> = [
  ['a revoked Proxy', revoked, (error) => error instanceof TypeError],
  [
    'an object with a throwing then getter',
    () =>
      Object.defineProperty({}, 'then', {
        get() {
          throw new ThenGetterError('then getter')
        },
      }),
    (error) => error instanceof ThenGetterError,
  ],
  [
    'a Proxy whose get trap throws',
    () =>
      new Proxy(
        {},
        {
          get() {
            throw new ThenGetterError('get trap')
          },
        },
      ),
    (error) => error instanceof ThenGetterError,
  ],
  [
    'a function Proxy whose get trap throws',
    () =>
      new Proxy(() => {}, {
        get() {
          throw new ThenGetterError('get trap')
        },
      }),
    (error) => error instanceof ThenGetterError,
  ],
]

describe('a value whose then cannot be read', () => {
  it.each(unreadable)(
    '%s: createTask returns a task that rejects with that error; the group fails and closes',
    async (_name, make, isIt) => {
      const group = new TaskGroup()
      const task = group.createTask(() => make())
      const error = await task.then(
        () => undefined,
        (e: unknown) => e,
      )
      expect(isIt(error)).toBe(true)
      expect(task.status).toBe('rejected')
      expect(group.size).toBe(0)
      await expect(group.close()).resolves.toBeUndefined() // observed above: nothing to report
    },
  )

  it.each(unreadable)('%s, from async work: rejects with that error', async (_name, make, isIt) => {
    const group = new TaskGroup()
    const task = group.createTask(async () => make())
    // An async function's promise resolves with the value: promise resolution reads `then` and rejects.
    const error = await task.then(
      () => undefined,
      (e: unknown) => e,
    )
    expect(isIt(error)).toBe(true)
    await group.close()
  })

  it.each(unreadable)(
    '%s, nobody awaiting it: close() rejects with a TaskGroupError naming it; siblings are cancelled',
    async (_name, make) => {
      const group = new TaskGroup()
      const sibling = group.createTask(
        (signal) => new Promise((_, reject) => signal.addEventListener('abort', () => reject(signal.reason), { once: true })),
      )
      group.createTask(function hostile() {
        return make()
      })
      await expect(sibling).rejects.toBeInstanceOf(CancelledError)
      const error = await group.close().then(
        () => undefined,
        (e: unknown) => e,
      )
      expect((error as { code?: unknown }).code).toBe('ERR_TASK_GROUP')
      expect((error as Error).message).toContain('hostile')
    },
  )

  it.each(unreadable)('%s as bare work: createTask throws at once and counts nothing', (_name, make) => {
    const group = new TaskGroup()
    expect(() => group.createTask(make() as PromiseLike<unknown>)).toThrow()
    expect(group.size).toBe(0)
  })

  it.each(unreadable)(
    '%s given to start(): start rejects with it once, the group is not failed, the task bears no wrapper name',
    async (_name, make, isIt) => {
      const group = new TaskGroup()
      const sibling = group.createTask(() => new Promise((resolve) => setTimeout(resolve, 5, 'ok')))
      const error = await group
        .start(() => make())
        .then(
          () => undefined,
          (e: unknown) => e,
        )
      expect(isIt(error)).toBe(true)
      expect(group.cancelled).toBe(false)
      await expect(sibling).resolves.toBe('ok')
      await expect(group.close()).resolves.toBeUndefined()
    },
  )

  it('start() names the task after the work, or Task-<n>, never after an internal wrapper', async () => {
    const group = new TaskGroup({ failFast: false })
    await group.start(async function listen(_signal, ready) {
      ready()
      throw new Error('after ready')
    })
    await group.start(async (_signal, ready) => {
      ready()
      throw new Error('after ready')
    })
    const error = await group.close().then(
      () => undefined,
      (e: unknown) => e as Error,
    )
    expect(error?.message).toMatch(/failed: listen, Task-1$/)
  })

  it('start() reports a synchronous failure before ready to its caller only, once', async () => {
    const group = new TaskGroup()
    const boom = new Error('boom')
    await expect(
      group.start(() => {
        throw boom
      }),
    ).rejects.toBe(boom)
    expect(group.cancelled).toBe(false)
    await expect(group.close()).resolves.toBeUndefined()
  })
})

describe('deep child() nesting', () => {
  const depth = 20_000

  it(`deadline, cancel() and close() work ${depth.toLocaleString('en')} levels deep`, async () => {
    const root = new TaskGroup({ timeout: 60_000 })
    let leaf = root
    for (let i = 0; i < depth; i++) leaf = leaf.child()
    expect(leaf.deadline).toBe(root.deadline)
    const task = leaf.createTask(
      (signal) => new Promise((_, reject) => signal.addEventListener('abort', () => reject(signal.reason), { once: true })),
    )
    root.cancel()
    await expect(task).rejects.toBeInstanceOf(CancelledError)
    expect(leaf.cancelled).toBe(true)
    await expect(root.close()).resolves.toBeUndefined()
  })

  it(`a failure ${depth.toLocaleString('en')} levels deep cancels the root and is reported once`, async () => {
    const root = new TaskGroup()
    let leaf = root
    for (let i = 0; i < depth; i++) leaf = leaf.child()
    const sibling = root.createTask(
      (signal) => new Promise((_, reject) => signal.addEventListener('abort', () => reject(signal.reason), { once: true })),
    )
    leaf.createTask(async () => {
      throw new Error('deep failure')
    })
    await expect(sibling).rejects.toBeInstanceOf(CancelledError)
    const error = (await root.close().then(
      () => undefined,
      (e: unknown) => e,
    )) as AggregateError
    expect(error.errors.map((e: Error) => e.message)).toEqual(['deep failure'])
  })

  it(`closing the root closes ${depth.toLocaleString('en')} nested children and waits for the leaf's task`, async () => {
    const root = new TaskGroup()
    let leaf = root
    for (let i = 0; i < depth; i++) leaf = leaf.child()
    let finished = false
    leaf.createTask(async () => {
      await new Promise((resolve) => setImmediate(resolve))
      finished = true
    })
    await root.close()
    expect(finished).toBe(true)
  })
})

// ---------------------------------------------------------------------------------------------
// Property-based: hostile results, every way they can be returned.

type Hostile = { kind: string; make: () => unknown; settles: boolean }

const hostileResult: fc.Arbitrary<Hostile> = fc.oneof(
  fc.constant<Hostile>({ kind: 'revoked proxy', make: revoked, settles: true }),
  fc.string().map<Hostile>((message) => ({
    kind: 'throwing then getter',
    make: () =>
      Object.defineProperty({}, 'then', {
        get() {
          throw new Error(message)
        },
      }),
    settles: true,
  })),
  fc.constant<Hostile>({
    kind: 'proxy with throwing get trap',
    make: () =>
      new Proxy(
        {},
        {
          get() {
            throw new Error('trap')
          },
        },
      ),
    settles: true,
  }),
  fc.constant<Hostile>({
    kind: 'proxy that lies about everything but then',
    make: () =>
      new Proxy(
        {},
        {
          get: (_t, key) => (key === 'then' ? undefined : 1),
          getPrototypeOf() {
            throw new Error('no prototype')
          },
        },
      ),
    settles: true,
  }),
  fc.anything().map<Hostile>((value) => ({
    kind: 'thenable calling back twice',
    make: () =>
      thenable((resolve, reject) => {
        resolve(value)
        reject(new Error('second'))
        resolve('third')
      }),
    settles: true,
  })),
  fc.integer({ min: 0, max: 3 }).map<Hostile>((delay) => ({
    kind: 'thenable calling back late',
    make: () =>
      thenable((resolve) => {
        setTimeout(resolve, delay, 'late')
      }),
    settles: true,
  })),
  fc.constant<Hostile>({
    kind: 'thenable whose then throws after calling back',
    make: () =>
      thenable((resolve) => {
        resolve(1)
        throw new Error('after')
      }),
    settles: true,
  }),
  fc.constant<Hostile>({
    kind: 'thenable whose then getter answers once, then throws',
    make: () => {
      let reads = 0
      return Object.defineProperty({}, 'then', {
        get() {
          if (++reads > 1) throw new Error('read twice')
          return (resolve: (v: unknown) => void) => resolve('once')
        },
      })
    },
    settles: true,
  }),
  fc.constant<Hostile>({ kind: 'thenable that never calls back', make: () => thenable(() => {}), settles: false }),
)

/** How the hostile value reaches the task. */
const delivery = fc.constantFrom('returned', 'resolved by async work', 'thrown', 'rejected')

function workFor(hostile: Hostile, how: string): (signal: AbortSignal) => unknown {
  switch (how) {
    case 'returned':
      return () => hostile.make()
    case 'resolved by async work':
      return async () => hostile.make()
    case 'thrown':
      return () => {
        throw hostile.make()
      }
    default:
      return () => Promise.reject(hostile.make())
  }
}

const settledIn = <T>(promise: Promise<T>): Promise<'settled' | 'pending'> =>
  Promise.race([
    promise.then(
      () => 'settled' as const,
      () => 'settled' as const,
    ),
    new Promise<'pending'>((resolve) => setTimeout(resolve, 50, 'pending')),
  ])

describe('property: hostile work results never leave a group that cannot end', () => {
  it('cancel() ends the group: close() settles, size is 0, unless the work itself never settles', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.array(fc.tuple(hostileResult, delivery), { minLength: 1, maxLength: 5 }),
        fc.boolean(),
        async (works, failFast) => {
          const group = new TaskGroup({ failFast })
          let neverSettles = false
          for (const [hostile, how] of works) {
            // A thrown or rejected value is a failure or a cancellation, whatever it is: always settles.
            if (!hostile.settles && (how === 'returned' || how === 'resolved by async work')) neverSettles = true
            const task = group.createTask(workFor(hostile, how))
            task.then(undefined, () => {})
          }
          group.cancel()
          const closed = group.close().catch(() => {})
          if (neverSettles) return // inherent: like new Promise(() => {})
          expect(await settledIn(closed)).toBe('settled')
          expect(group.size).toBe(0)
        },
      ),
      { numRuns: 150 },
    )
  })

  it('a timeout ends the group: close() settles with a TimeoutError or the failures', async () => {
    await fc.assert(
      fc.asyncProperty(fc.array(fc.tuple(hostileResult, delivery), { minLength: 1, maxLength: 4 }), async (works) => {
        const group = new TaskGroup({ timeout: 1 })
        let neverSettles = false
        for (const [hostile, how] of works) {
          if (!hostile.settles && (how === 'returned' || how === 'resolved by async work')) neverSettles = true
          group.createTask(workFor(hostile, how))
        }
        // Plus one task that only the timeout ends.
        group.createTask(
          (signal) => new Promise((_, reject) => signal.addEventListener('abort', () => reject(signal.reason), { once: true })),
        )
        const outcome = group.close().then(
          () => undefined,
          (e: unknown) => e,
        )
        if (neverSettles) return
        expect(await settledIn(outcome)).toBe('settled')
        const error = await outcome
        expect(error instanceof TimeoutError || (error as { code?: unknown }).code === 'ERR_TASK_GROUP').toBe(true)
        expect(group.size).toBe(0)
      }),
      { numRuns: 100 },
    )
  })

  it('TaskGroup.run with hostile task results always settles', async () => {
    await fc.assert(
      fc.asyncProperty(fc.array(fc.tuple(hostileResult, delivery), { minLength: 1, maxLength: 4 }), async (works) => {
        const settles = works.every(([hostile, how]) => hostile.settles || how === 'thrown' || how === 'rejected')
        const run = TaskGroup.run(async (group) => {
          for (const [hostile, how] of works) group.createTask(workFor(hostile, how))
          group.cancel()
        })
        if (!settles) {
          run.catch(() => {})
          return
        }
        expect(await settledIn(run)).toBe('settled')
      }),
      { numRuns: 100 },
    )
  })

  it('start() with a hostile result settles once, and never fails the group', async () => {
    await fc.assert(
      fc.asyncProperty(hostileResult, fc.constantFrom('returned', 'thrown'), async (hostile, how) => {
        const group = new TaskGroup()
        let calls = 0
        const started = group.start(workFor(hostile, how))
        const outcome = started.then(
          () => ++calls,
          () => ++calls,
        )
        if (!hostile.settles && how === 'returned') return // the work never settles: inherent
        expect(await settledIn(outcome)).toBe('settled')
        expect(calls).toBe(1)
        expect(group.cancelled).toBe(false)
        group.cancel()
        expect(await settledIn(group.close())).toBe('settled')
      }),
      { numRuns: 100 },
    )
  })
})
