// BackgroundTasks keeps a bounded history of finished tasks: get(id) finds them (a job-status route
// needs no Map of its own), list() shows running tasks only, and memory stays flat.

import { BackgroundTasks, CancelledError } from '@taskscope/core'
import { deferred, flush } from '@taskscope/test-support'
import { describe, expect, it } from 'vitest'

describe('BackgroundTasks: a bounded history of finished tasks', () => {
  it('get(id) finds a finished task, fulfilled, rejected or cancelled, with its outcome; list() shows running ones only', async () => {
    const tasks = new BackgroundTasks({ onError: () => {} })
    const boom = new Error('boom')
    const running = tasks.add(() => new Promise(() => {}), { name: 'running' })
    const done = tasks.add(async () => 'value', { name: 'done' })
    const failed = tasks.add(async () => Promise.reject(boom), { name: 'failed' })
    const cancelled = tasks.add(
      (signal) => new Promise((_, reject) => signal.addEventListener('abort', () => reject(signal.reason), { once: true })),
    )
    cancelled.cancel()
    await flush()
    expect(tasks.get(done.id)).toBe(done)
    expect(tasks.get(done.id)!.status).toBe('fulfilled')
    expect(await tasks.get(done.id)!).toBe('value')
    expect(tasks.get(failed.id)).toMatchObject({ status: 'rejected', error: boom })
    expect(tasks.get(cancelled.id)!.status).toBe('cancelled')
    expect(
      await tasks.get(cancelled.id)!.then(
        () => 'fulfilled',
        (e: unknown) => e,
      ),
    ).toBeInstanceOf(CancelledError)
    expect(tasks.list().map((info) => info.id)).toEqual([running.id])
    expect(tasks.active).toBe(1)
    running.cancel()
  })

  it('a task that settles synchronously is in the history too', () => {
    const tasks = new BackgroundTasks({ onError: () => {} })
    const job = tasks.add(() => 'sync')
    expect(tasks.active).toBe(0)
    expect(tasks.get(job.id)).toBe(job)
  })

  it('keeps the last `history` finished tasks in the order they finished, forgetting the oldest first', async () => {
    const tasks = new BackgroundTasks({ history: 2 })
    const gates = [deferred(), deferred(), deferred()]
    const [a, b, c] = gates.map((gate) => tasks.add(() => gate.promise))
    // Finish in the order b, a, c: a history of 2 then holds a and c.
    for (const i of [1, 0, 2]) {
      gates[i]!.resolve()
      await flush()
    }
    expect(tasks.get(b!.id)).toBeUndefined()
    expect(tasks.get(a!.id)).toBe(a)
    expect(tasks.get(c!.id)).toBe(c)
  })

  it('history: 0 forgets a task as soon as it settles', async () => {
    const tasks = new BackgroundTasks({ history: 0 })
    const job = tasks.add(async () => 1)
    expect(tasks.get(job.id)).toBe(job)
    await job
    expect(tasks.get(job.id)).toBeUndefined()
  })

  it('stays bounded over many tasks: the default history holds exactly the last 1,000 (3 rounds of 5,000)', async () => {
    const tasks = new BackgroundTasks()
    for (let round = 0; round < 3; round++) {
      const gate = deferred()
      const ids: string[] = []
      for (let i = 0; i < 5_000; i++) ids.push(tasks.add(() => gate.promise).id)
      gate.resolve()
      await flush()
      expect(tasks.active).toBe(0)
      const found = ids.map((id) => tasks.get(id) !== undefined)
      expect(found.filter(Boolean)).toHaveLength(1_000)
      expect(found.slice(-1_000).every(Boolean)).toBe(true) // the last 1,000 to finish
    }
  })

  it.each([
    [-1, RangeError, /"history".*Received -1/],
    [1.5, RangeError, /"history".*Received 1\.5/],
    [Infinity, RangeError, /"history".*Received Infinity/],
    [1_000_001, RangeError, /"history" option must be an integer from 0 to 1000000\. Received 1000001/],
    ['10', TypeError, /"history".*Received '10'/],
  ])('refuses history %j with a coded error naming the option and the value', (history, ErrorClass, message) => {
    let error: any
    try {
      new BackgroundTasks({ history: history as number })
    } catch (e) {
      error = e
    }
    expect(error).toBeInstanceOf(ErrorClass)
    expect(error.code).toMatch(/^ERR_/)
    expect(error.message).toMatch(message)
  })
})
