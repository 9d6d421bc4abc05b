import { ClosedError, cancellationStatus, getThreadpool, runInThreadpool, ShutdownError, type TaskGroup } from '@taskscope/core'
import { deferred, flush, untilAborted } from '@taskscope/test-support'
import { describe, expect, it } from 'vitest'
import { fixture, get, log, runtime, useRuntimeServer } from './server-fixture.ts'

useRuntimeServer()

describe('runtime.close', () => {
  it('is idempotent, refuses background tasks at once, and logs a summary at info', async () => {
    const info = log.next('info')
    const closing = runtime.close()
    expect(runtime.close()).toBe(closing)
    expect(runtime.draining).toBe(true)
    expect(runtime.stats().draining).toBe(true)
    expect(() => runtime.backgroundTasks.add(async () => {})).toThrow(ClosedError)
    const summary = await closing
    expect(summary).toMatchObject({
      requests: { inFlight: 0, cancelled: 0, abandoned: 0 },
      background: { completed: 0, failed: 0, cancelled: 0, abandoned: 0 },
      pool: 'not-started',
    })
    expect((await info).fields).toEqual(summary)
  })

  it('rejects an invalid timeout', async () => {
    await expect(runtime.close({ timeout: -5 })).rejects.toMatchObject({ code: 'ERR_OUT_OF_RANGE' })
    expect(runtime.draining).toBe(false)
  })

  it('waits for in-flight requests and background tasks that finish in time', async () => {
    const gate = deferred<void>()
    const started = deferred<void>()
    fixture.handle = async (req, res) => {
      const group = runtime.requestGroup(req, res)
      started.resolve()
      res.end(await group.createTask(gate.promise.then(() => 'finished')))
    }
    const job = runtime.backgroundTasks.add(() => gate.promise.then(() => 'done'))
    const response = get('/')
    await started.promise
    const closing = runtime.close({ timeout: Infinity })
    await flush()
    expect(runtime.stats().requests.active).toBe(1)
    gate.resolve()
    expect((await response).body).toBe('finished')
    const summary = await closing
    expect(summary.requests).toEqual({ inFlight: 1, cancelled: 0, abandoned: 0 })
    expect(summary.background).toEqual({ completed: 1, failed: 0, cancelled: 0, abandoned: 0 })
    expect(await job).toBe('done')
  })

  it('cancels leftovers with ShutdownError at the deadline, and logs the summary at warn', async () => {
    const started = deferred<void>()
    fixture.handle = async (req, res) => {
      const group = runtime.requestGroup(req, res)
      started.resolve()
      try {
        await group.createTask(untilAborted)
      } catch (error) {
        res.statusCode = cancellationStatus(error) ?? 500
        res.end((error as Error).name)
      }
    }
    const job = runtime.backgroundTasks.add(untilAborted, { name: 'forever' })
    const response = get('/')
    await started.promise
    const summary = await runtime.close({ timeout: 0 })
    expect(summary.requests).toEqual({ inFlight: 1, cancelled: 1, abandoned: 0 })
    expect(summary.background).toEqual({ completed: 0, failed: 0, cancelled: 1, abandoned: 0 })
    expect(job.signal.reason).toBeInstanceOf(ShutdownError)
    expect(await response).toMatchObject({ status: 503, body: 'ShutdownError' })
    expect(log.entries.at(-1)).toMatchObject({ level: 'warn', fields: summary })
  })

  it('creates request groups already cancelled once the deadline has passed', async () => {
    await runtime.close({ timeout: 0 })
    const created = deferred<TaskGroup>()
    fixture.handle = (req, res) => {
      created.resolve(runtime.requestGroup(req, res))
      res.end()
    }
    await get('/')
    const group = await created.promise
    expect(group.signal.reason).toBeInstanceOf(ShutdownError)
  })

  it('uses the process-wide shared pool by default (the one runInThreadpool uses), and closes it', async () => {
    const pool = runtime.threadpool
    expect(pool).toBe(getThreadpool())
    expect(await runInThreadpool((n: number) => n + 1, 1)).toBe(2)
    expect(pool.stats().completed).toBe(1)
    await runtime.close()
    expect(pool.closed).toBe(true)
    expect(runtime.threadpool).toBe(pool)
    expect(getThreadpool()).not.toBe(pool) // the next user gets a fresh shared pool
    await getThreadpool().close()
  })

  it('counts and drains the shared pool when only runInThreadpool used it', async () => {
    expect(await runInThreadpool((n: number) => n * 3, 3)).toBe(9)
    const shared = getThreadpool()
    expect(runtime.stats().pool).toMatchObject({ completed: shared.stats().completed })
    expect(runtime.stats().pool.completed).toBeGreaterThanOrEqual(1)
    expect((await runtime.close()).pool).toBe('closed')
    expect(shared.closed).toBe(true)
  })

  it('closes a pool it started; later reads return a closed pool', async () => {
    const pool = runtime.threadpool
    expect(runtime.threadpool).toBe(pool)
    expect(await pool.run((n: number) => n * 2, [21])).toBe(42)
    expect(runtime.stats().pool).toMatchObject({ completed: pool.stats().completed, running: 0 })
    expect((await runtime.close()).pool).toBe('closed')
    await expect(pool.run((n: number) => n, [1])).rejects.toBeInstanceOf(ClosedError)
  })
})
