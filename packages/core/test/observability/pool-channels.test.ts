// `taskscope:pool.run` and `taskscope:pool.worker.crash` with real worker threads.
import { CancelledError, WorkerCrashedError } from '@taskscope/core'
import { poolsForEachTest } from '@taskscope/test-support'
import { afterEach, describe, expect, it, vi } from 'vitest'
import { recordChannel, recordTracing } from './recorder.js'

const pool = poolsForEachTest()
const stops: Array<() => void> = []
afterEach(() => {
  for (const stop of stops.splice(0)) stop()
})

describe('taskscope:pool.run', () => {
  it('start and end at enqueue, asyncStart when a thread takes the call, asyncEnd with the result', async () => {
    const { records, stop } = recordTracing('taskscope:pool.run')
    stops.push(stop)
    const p = pool({ maxThreads: 1 })
    const gate = new SharedArrayBuffer(4)
    const first = p.run(
      (shared: SharedArrayBuffer) => {
        Atomics.wait(new Int32Array(shared), 0, 0) // holds the only thread until the test lets go
        return 'first'
      },
      [gate],
    )
    const second = p.run(
      function add(a: number, b: number) {
        return a + b
      },
      [1, 2],
    )
    const of = (name: string) => records.filter((r) => r.context.name === name).map((r) => r.event)
    await vi.waitFor(() => expect(p.stats().running).toBe(1))
    expect(of('add')).toEqual(['start', 'end']) // queued behind the first: no thread yet
    expect(records.find((r) => r.context.name === 'add')!.context.pool).toBe(p)
    Atomics.store(new Int32Array(gate), 0, 1)
    Atomics.notify(new Int32Array(gate), 0)
    expect(await first).toBe('first')
    expect(await second).toBe(3)
    expect(of('add')).toEqual(['start', 'end', 'asyncStart', 'asyncEnd'])
    expect(records.at(-1)!.snapshot).toMatchObject({ name: 'add', outcome: 'completed', result: 3 })
  })

  it('a failure is an error event; a cancellation ends with cancelled: true and no error', async () => {
    const { records, stop } = recordTracing('taskscope:pool.run')
    stops.push(stop)
    const p = pool({ maxThreads: 1 })
    await expect(
      p.run(function fails() {
        throw new RangeError('bad')
      }, []),
    ).rejects.toThrow('bad')
    const controller = new AbortController()
    const started = p.run(
      function spins() {
        for (;;);
      },
      [],
      { signal: controller.signal },
    )
    await vi.waitFor(() => expect(records.filter((r) => r.context.name === 'spins').map((r) => r.event)).toContain('asyncStart'))
    controller.abort(new Error('user left'))
    await expect(started).rejects.toBeInstanceOf(CancelledError)
    const events = (name: string) => records.filter((r) => r.context.name === name)
    expect(events('fails').map((r) => r.event)).toEqual(['start', 'end', 'asyncStart', 'error', 'asyncEnd'])
    expect(events('fails').at(-1)!.snapshot).toMatchObject({ outcome: 'failed', error: expect.any(RangeError) })
    expect(events('spins').map((r) => r.event)).toEqual(['start', 'end', 'asyncStart', 'asyncEnd'])
    expect(events('spins').at(-1)!.snapshot).toMatchObject({ outcome: 'cancelled', cancelled: true, reason: expect.any(CancelledError) })
  })
})

describe('taskscope:pool.worker.crash', () => {
  it('reports the thread that died under a task, with the task name and the WorkerCrashedError', async () => {
    const { messages, stop } = recordChannel('taskscope:pool.worker.crash')
    stops.push(stop)
    const p = pool({ maxThreads: 1 })
    const error = await p
      .run(function exits() {
        process.exit(3)
      }, [])
      .catch((e: unknown) => e)
    expect(error).toBeInstanceOf(WorkerCrashedError)
    expect(messages).toEqual([{ pool: p, task: 'exits', error }])
    expect(await p.run((a: number) => a, [7])).toBe(7) // replaced
  })
})
