import { once } from 'node:events'
import { BackgroundTasks, CancelledError, ClosedError, defineTask, errorCodes, ShutdownError } from '@taskscope/core'
import { isTaskDefinition, validateTaskData, validateTaskResult } from '@taskscope/core/adapter'
import { collectUnhandled, deferred } from '@taskscope/test-support'
import { describe, expect, it } from 'vitest'

/** An array nested `depth` levels deep: [[[...]]]. */
function deepArray(depth: number): unknown[] {
  let array: unknown[] = []
  for (let i = 1; i < depth; i++) array = [array]
  return array
}

const double = defineTask('math.double', (data: { n: number }) => data.n * 2)

describe('defineTask', () => {
  it('makes a frozen, recognisable definition with a name and a function', () => {
    const fn = async (data: { list: string }): Promise<number> => data.list.length
    const task = defineTask('newsletter.send', fn)
    expect(task.name).toBe('newsletter.send')
    expect(task.fn).toBe(fn)
    expect(Object.isFrozen(task)).toBe(true)
    expect(isTaskDefinition(task)).toBe(true)
    expect(Object.prototype.toString.call(task)).toBe('[object TaskDefinition]')
    expect(isTaskDefinition({ name: 'x', fn })).toBe(false)
    expect(isTaskDefinition(fn)).toBe(false)
  })

  it('refuses a name that is not a non-empty string and a fn that is not a function, with codes', () => {
    expect(() => defineTask(42 as never, () => 1)).toThrow(
      expect.objectContaining({
        name: 'TypeError',
        code: errorCodes.invalidArgType,
        message: expect.stringMatching(/"name".*42 \(number\)/),
      }),
    )
    expect(() => defineTask('', () => 1)).toThrow(
      expect.objectContaining({ name: 'TypeError', code: errorCodes.invalidArgValue, message: expect.stringMatching(/"name".*empty/) }),
    )
    expect(() => defineTask('x', 'nope' as never)).toThrow(
      expect.objectContaining({ name: 'TypeError', code: errorCodes.invalidArgType, message: expect.stringMatching(/"fn".*'nope'/) }),
    )
  })
})

describe('validateTaskData: data must survive JSON', () => {
  it.each([
    ['a function', { send: () => 1 }, /data\.send is function send/],
    ['a Date', { when: new Date(0) }, /data\.when is a Date, not a plain object/],
    ['a Map', new Map(), /data is a Map/],
    ['a class instance', { user: new (class User {})() }, /data\.user is a User/],
    ['a BigInt', [1n], /data\[0\] is 1n \(bigint\)/],
    ['NaN', { n: Number.NaN }, /data\.n is NaN/],
    ['Infinity', { 'a-b': Infinity }, /data\["a-b"\] is Infinity/],
    ['undefined in an array', [1, undefined], /data\[1\] is undefined/],
    ['a symbol', Symbol('s'), /data is Symbol\(s\)/],
    ['symbol keys', { [Symbol('k')]: 1 }, /data has symbol keys/],
    ['undefined itself', undefined, /data is undefined/],
    ['-0', { n: -0 }, /data\.n is -0/],
    ['an array with an extra property', Object.assign([1, 2], { extra: true }), /data has the extra property "extra"/],
    ['an array with holes', new Array(3).fill(1, 0, 1), /data has holes/],
    ['a 20,000-deep array', deepArray(20_000), /nested deeper than 1000 levels/],
    [
      'a throwing getter',
      {
        get boom() {
          throw new Error('getter says no')
        },
      },
      /reading it threw Error: getter says no/,
    ],
    [
      'a Proxy whose trap throws',
      new Proxy(
        {},
        {
          ownKeys() {
            throw new RangeError('trap says no')
          },
        },
      ),
      /reading it threw RangeError: trap says no/,
    ],
  ])('refuses %s with ERR_TASK_DATA_NOT_JSON, naming where', (_label, data, message) => {
    let error: unknown
    try {
      validateTaskData(data, 'The "data" argument')
    } catch (caught) {
      error = caught
    }
    expect(error).toBeInstanceOf(TypeError)
    expect(error).toMatchObject({ code: errorCodes.taskDataNotJson, message: expect.stringMatching(message) })
    expect((error as Error).message).toMatch(/^The "data" argument must survive JSON/)
  })

  it('refuses a cycle but accepts a shared, acyclic reference', () => {
    const cyclic: Record<string, unknown> = {}
    cyclic.self = cyclic
    expect(() => validateTaskData(cyclic, 'data')).toThrow(/data\.self is a circular reference/)
    const shared = { a: 1 }
    expect(validateTaskData({ x: shared, y: [shared] }, 'data')).toEqual({ x: shared, y: [shared] })
  })

  it("keeps the user's own error as the cause of a refusal", () => {
    const own = new Error('getter says no')
    const data = {
      get boom() {
        throw own
      },
    }
    expect(() => validateTaskData(data, 'data')).toThrow(expect.objectContaining({ code: errorCodes.taskDataNotJson, cause: own }))
  })

  it('validateTaskResult accepts undefined (a task that returns nothing) and refuses the rest like data', () => {
    expect(validateTaskResult(undefined, 'result')).toBe(undefined)
    expect(() => validateTaskResult(-0, 'result')).toThrow(expect.objectContaining({ code: errorCodes.taskDataNotJson }))
  })

  it('accepts JSON values, null-prototype objects, 999-deep arrays and undefined properties', () => {
    for (const data of [
      null,
      0,
      'x',
      true,
      [],
      {},
      { a: [1, 'b', null, { c: false }] },
      Object.create(null),
      deepArray(999),
      { gone: undefined },
    ]) {
      expect(validateTaskData(data, 'data')).toBe(data)
    }
  })
})

describe('BackgroundTasks.add(task, data, { id })', () => {
  it('runs the task in-process with a JSON copy of the data and its own signal, named after the task', async () => {
    const tasks = new BackgroundTasks()
    const seen: { data: unknown; signal: AbortSignal }[] = []
    const echo = defineTask('echo', (data: { list: string[] }, signal: AbortSignal) => {
      seen.push({ data, signal })
      return data.list.length
    })
    const data = { list: ['a', 'b'] }
    const job = tasks.add(echo, data)
    expect(job.name).toBe('echo')
    expect(await job).toBe(2)
    expect(seen[0]!.data).toEqual(data)
    expect(seen[0]!.data).not.toBe(data) // what another process would get: a copy
    expect(seen[0]!.signal).toBe(job.signal)
    expect(job.status).toBe('fulfilled')
  })

  it('uses the given id as the handle id; a random UUID otherwise', async () => {
    const tasks = new BackgroundTasks()
    expect(tasks.add(double, { n: 1 }, { id: 'double-1' }).id).toBe('double-1')
    expect(tasks.add(double, { n: 1 }).id).toMatch(/^[0-9a-f-]{36}$/)
    await tasks.shutdown()
  })

  it('returns the existing handle when the id is still known, without running the task again', async () => {
    const tasks = new BackgroundTasks()
    const gate = deferred<void>()
    let runs = 0
    const slow = defineTask('slow', async (data: { n: number }) => {
      runs++
      await gate.promise
      return data.n
    })
    const first = tasks.add(slow, { n: 1 }, { id: 'job-1' })
    const again = tasks.add(slow, { n: 2 }, { id: 'job-1' })
    expect(again).toBe(first)
    expect(tasks.get('job-1')).toBe(first)
    expect(tasks.active).toBe(1)
    gate.resolve()
    expect(await again).toBe(1)
    expect(runs).toBe(1)
  })

  it('refuses data that does not survive JSON with a TypeError at add, and starts nothing', () => {
    const tasks = new BackgroundTasks()
    let runs = 0
    const task = defineTask('t', () => runs++)
    expect(() => tasks.add(task, { at: new Date() })).toThrow(
      expect.objectContaining({
        name: 'TypeError',
        code: errorCodes.taskDataNotJson,
        message: expect.stringMatching(/data\.at is a Date/),
      }),
    )
    expect(() => tasks.add(task, () => 1)).toThrow(expect.objectContaining({ code: errorCodes.taskDataNotJson }))
    expect(runs).toBe(0)
    expect(tasks.active).toBe(0)
  })

  it('refuses an id that is not a non-empty string, and options that are not an object', () => {
    const tasks = new BackgroundTasks()
    expect(() => tasks.add(double, { n: 1 }, { id: 7 as never })).toThrow(
      expect.objectContaining({ code: errorCodes.invalidArgType, message: expect.stringMatching(/"id".*7 \(number\)/) }),
    )
    expect(() => tasks.add(double, { n: 1 }, { id: '' })).toThrow(expect.objectContaining({ code: errorCodes.invalidArgValue }))
    expect(() => tasks.add(double, { n: 1 }, 'x' as never)).toThrow(expect.objectContaining({ code: errorCodes.invalidArgType }))
    expect(tasks.active).toBe(0)
  })

  it('cancels with the signal, reports failures to onError, and is drained by shutdown', async () => {
    const failures: unknown[] = []
    const tasks = new BackgroundTasks({ onError: (error) => failures.push(error) })
    const waits = defineTask('waits', async (_data: null, signal: AbortSignal) => {
      await once(signal, 'abort')
      throw signal.reason
    })
    const fails = defineTask('fails', async () => {
      throw Object.assign(new Error('boom'), { code: 'E_BOOM' })
    })
    const unhandled = await collectUnhandled(async () => {
      const cancelled = tasks.add(waits, null, { id: 'c' })
      cancelled.cancel('stop')
      await expect(cancelled).rejects.toBeInstanceOf(CancelledError)
      expect(cancelled.status).toBe('cancelled')
      const failed = tasks.add(fails, null)
      const running = tasks.add(waits, null)
      await expect(tasks.shutdown({ timeout: 0 })).resolves.toEqual({ completed: 0, failed: 1, cancelled: 1, abandoned: 0 })
      expect(running.signal.reason).toBeInstanceOf(ShutdownError)
      expect(failed.status).toBe('rejected')
    })
    expect(unhandled).toEqual([])
    expect(failures).toEqual([expect.objectContaining({ message: 'boom', code: 'E_BOOM' })])
  })

  it('throws ClosedError once shutdown was called, also for a known id', async () => {
    const tasks = new BackgroundTasks()
    void tasks.shutdown()
    expect(() => tasks.add(double, { n: 1 }, { id: 'x' })).toThrow(ClosedError)
  })

  it('keeps add(work, { name }) unchanged', async () => {
    const tasks = new BackgroundTasks()
    const job = tasks.add(async () => 'plain', { name: 'plain' })
    expect(job.name).toBe('plain')
    expect(await job).toBe('plain')
  })
})
