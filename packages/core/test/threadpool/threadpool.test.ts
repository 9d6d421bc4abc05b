// The Threadpool (P0, P2-P7, close/destroy, stats, the shared pool) on real worker threads,
// through the built package. Function shipping itself (P1) is in function-shipping.test.ts.
import { execFile } from 'node:child_process'
import { availableParallelism } from 'node:os'
import { fileURLToPath } from 'node:url'
import { promisify } from 'node:util'
import {
  CancelledError,
  ClosedError,
  getThreadpool,
  QueueFullError,
  runInThreadpool,
  ShutdownError,
  Threadpool,
  TimeoutError,
  WorkerCrashedError,
  workerTask,
} from '@taskscope/core'
import { poolsForEachTest, rejectionOf } from '@taskscope/test-support'
import { afterAll, describe, expect, it } from 'vitest'
import { newFlag, spin, startedOn } from './started-flag.ts'

const pool = poolsForEachTest()

/** Calls `run` and checks it did not throw synchronously; returns its rejection. */
async function rejectionOfCall(call: () => Promise<unknown>): Promise<any> {
  let promise: Promise<unknown> | undefined
  expect(() => {
    promise = call()
  }).not.toThrow()
  return rejectionOf(promise!)
}

const threadOf = (): number => process.getBuiltinModule('node:worker_threads').threadId
const mathTasks = new URL('./fixtures/math-tasks.mjs', import.meta.url)

describe('P0: misuse', () => {
  it('run never throws: a bad task, args, options or a closed pool is a rejection', async () => {
    const p = pool({ minThreads: 0 })
    const ok = (x: number): number => x
    const notFunction = await rejectionOfCall(() => p.run(42 as unknown as () => number, []))
    expect(notFunction).toMatchObject({ name: 'TypeError', code: 'ERR_INVALID_ARG_TYPE' })
    expect(notFunction.message).toMatch(/"task".*Received 42 \(number\)/)
    const badArgs = await rejectionOfCall(() => p.run(ok, 1 as never))
    expect(badArgs).toMatchObject({ name: 'TypeError', code: 'ERR_INVALID_ARG_TYPE' })
    expect(badArgs.message).toContain('"args"')
    const badTimeout = await rejectionOfCall(() => p.run(ok, [1], { timeout: -1 }))
    expect(badTimeout).toMatchObject({ name: 'RangeError', code: 'ERR_OUT_OF_RANGE' })
    expect(badTimeout.message).toMatch(/"timeout".*Received -1/)
    expect(await rejectionOfCall(() => p.run(ok, [1], { signal: {} as AbortSignal }))).toMatchObject({ code: 'ERR_INVALID_ARG_TYPE' })
    expect(await rejectionOfCall(() => p.run(ok, [1], 'fast' as never))).toMatchObject({ code: 'ERR_INVALID_ARG_TYPE' })
    const view = await rejectionOfCall(() => p.run(ok, [1], { transfer: [new Uint8Array(4) as never] }))
    expect(view.message).toMatch(/"transfer\[0\]".*view\.buffer/)
    expect(p.stats().threads).toBe(0) // all refused before any thread was involved
    void p.close()
    expect(await rejectionOfCall(() => p.run(ok, [1]))).toBeInstanceOf(ClosedError)
  })

  it('the constructor throws for invalid options, naming the option and the value', () => {
    expect(() => new Threadpool({ maxThreads: 0 })).toThrow(RangeError)
    expect(() => new Threadpool({ maxThreads: 0 })).toThrow(/"maxThreads".*Received 0 \(number\)/)
    expect(() => new Threadpool({ minThreads: 3, maxThreads: 2 })).toThrow(/"minThreads".*"maxThreads".*Received 3/)
    expect(() => new Threadpool({ idleTimeout: 'soon' as never })).toThrow(/"idleTimeout".*Received 'soon'/)
    expect(() => new Threadpool({ maxQueue: 1.5 })).toThrow(/"maxQueue"/)
    expect(() => new Threadpool({ resourceLimits: { maxOldGenerationSizeMb: 0 } })).toThrow(/"resourceLimits.maxOldGenerationSizeMb"/)
    expect(() => new Threadpool(7 as never)).toThrow(TypeError)
    expect(() => Threadpool.validateOptions({ maxThreads: -1 }, 'The "threadpool" option')).toThrow(RangeError)
    expect(Threadpool.validateOptions(undefined)).toEqual({})
  })

  it('never modifies the caller’s options', async () => {
    const options = Object.freeze({ maxThreads: 1, idleTimeout: Infinity, resourceLimits: Object.freeze({ stackSizeMb: 4 }) })
    const p = pool(options)
    const buffer = new ArrayBuffer(4)
    const runOptions = Object.freeze({ timeout: 10_000, transfer: Object.freeze([buffer]) })
    expect(await p.run((b: ArrayBuffer) => b.byteLength, [buffer], runOptions)).toBe(4)
    expect(runOptions).toEqual({ timeout: 10_000, transfer: [buffer] })
    expect(options).toEqual({ maxThreads: 1, idleTimeout: Infinity, resourceLimits: { stackSizeMb: 4 } })
  })

  it('has documented defaults for a web server', () => {
    const p = pool({ maxThreads: undefined, minThreads: 0 })
    const maxThreads = Math.max(1, availableParallelism() - 1)
    expect(p.options).toMatchObject({ maxThreads, idleTimeout: 30_000, maxQueue: 64 * maxThreads })
    expect(pool({ maxThreads: undefined }).options.minThreads).toBe(1)
  })
})

describe('P2: cancellation and timeouts', () => {
  it('a cancelled queued task is removed; the running one is left alone', async () => {
    const p = pool()
    const flag = newFlag()
    const running = rejectionOf(p.run(spin, [flag, 10_000])) // a handler now: destroy() rejects it below
    const spinner = await startedOn(flag)
    const controller = new AbortController()
    const queued = p.run(threadOf, [], { signal: controller.signal })
    expect(p.stats()).toMatchObject({ running: 1, queued: 1 })
    controller.abort()
    const error = await rejectionOf(queued)
    expect(error).toBeInstanceOf(CancelledError)
    expect(p.stats()).toMatchObject({ running: 1, queued: 0, cancelled: 1 })
    await p.destroy()
    expect(await running).toBeInstanceOf(ShutdownError)
    expect(spinner).toBeGreaterThan(0)
  })

  it('cancelling a running task terminates its thread, which is replaced; the reason is the cause', async () => {
    const p = pool()
    const flag = newFlag()
    const controller = new AbortController()
    const running = p.run(spin, [flag, 10_000], { signal: controller.signal })
    const spinner = await startedOn(flag)
    const reason = new Error('client went away')
    controller.abort(reason)
    const error = await rejectionOf(running) // long before the 10 s spin could end by itself
    expect(error).toBeInstanceOf(CancelledError)
    expect(error.cause).toBe(reason)
    expect(error.message).toContain('"spin"')
    const replacement = await p.run(threadOf, [])
    expect(replacement).not.toBe(spinner)
    expect(p.stats()).toMatchObject({ cancelled: 1, completed: 1, running: 0 })
  })

  it('a CancelledError reason is used as is; an aborted signal rejects without running', async () => {
    const p = pool({ minThreads: 0 })
    const reason = new CancelledError('request finished')
    const controller = new AbortController()
    controller.abort(reason)
    expect(await rejectionOfCall(() => p.run(threadOf, [], { signal: controller.signal }))).toBe(reason)
    expect(p.stats().threads).toBe(0)
    const flag = newFlag()
    const later = new AbortController()
    const running = p.run(spin, [flag, 10_000], { signal: later.signal })
    await startedOn(flag)
    later.abort(reason)
    expect(await rejectionOf(running)).toBe(reason)
  })

  it('timeout rejects with TimeoutError and stops the thread', async () => {
    const p = pool()
    const warm = await p.run(threadOf, []) // the one thread is up: the spin is handed to it at once
    const error = await rejectionOf(p.run(spin, [newFlag(), 10_000], { timeout: 200 }))
    expect(error).toBeInstanceOf(TimeoutError)
    expect(error).toMatchObject({ code: 'ERR_TIMEOUT' })
    expect(error.message).toMatch(/"spin" timed out after 200 ms/)
    expect(await p.run(threadOf, [])).not.toBe(warm)
  })

  it('a CPU-bound task does not block the main thread: timers keep firing', async () => {
    const p = pool()
    const flag = newFlag()
    const task = p.run(spin, [flag, 1_000]).then(() => 'task')
    await startedOn(flag)
    const timer = new Promise((resolve) => setTimeout(resolve, 10, 'timer'))
    expect(await Promise.race([task, timer])).toBe('timer')
    expect(await task).toBe('task')
  })
})

describe('P3: errors keep their class, name, code, cause and properties', () => {
  it('rebuilds a custom error subclass with its cause chain', async () => {
    const p = pool()
    const error = await rejectionOf(
      p.run(() => {
        class PaymentError extends TypeError {
          code = 'E_PAYMENT'
          declined = { card: 'visa', retry: false }
        }
        const root = Object.assign(new RangeError('limit'), { code: 'E_LIMIT' })
        const failure = new PaymentError('declined', { cause: root })
        failure.name = 'PaymentError'
        throw failure
      }, []),
    )
    expect(error).toBeInstanceOf(TypeError)
    expect(error).toMatchObject({ name: 'PaymentError', message: 'declined', code: 'E_PAYMENT', declined: { card: 'visa', retry: false } })
    expect(error.stack).toMatch(/^PaymentError: declined\n/)
    expect(error.cause).toBeInstanceOf(RangeError)
    expect(error.cause).toMatchObject({ message: 'limit', code: 'E_LIMIT' })
  })

  it('keeps every built-in class, and AggregateError with its errors', async () => {
    const p = pool()
    const throwBuiltin = (name: string): never => {
      throw new (globalThis as unknown as Record<string, ErrorConstructor>)[name]!(`a ${name}`)
    }
    for (const Class of [TypeError, RangeError, SyntaxError, ReferenceError, EvalError, URIError, Error]) {
      const error = await rejectionOf(p.run(throwBuiltin, [Class.name]))
      expect(error).toBeInstanceOf(Class)
      expect(error).toMatchObject({ name: Class.name, message: `a ${Class.name}` })
    }
    const aggregate = await rejectionOf(
      p.run(() => {
        throw new AggregateError([new URIError('one'), 'two'], 'both failed')
      }, []),
    )
    expect(aggregate).toBeInstanceOf(AggregateError)
    expect(aggregate.message).toBe('both failed')
    expect(aggregate.errors[0]).toBeInstanceOf(URIError)
    expect(aggregate.errors[1]).toBe('two')
  })

  it('returns thrown non-errors as values', async () => {
    const p = pool()
    expect(
      await rejectionOf(
        p.run(() => {
          throw 'plain string'
        }, []),
      ),
    ).toBe('plain string')
    expect(
      await rejectionOf(
        p.run(() => {
          throw { status: 418, tags: ['tea'] }
        }, []),
      ),
    ).toEqual({ status: 418, tags: ['tea'] })
    expect(
      await rejectionOf(
        p.run(() => {
          throw undefined
        }, []),
      ),
    ).toBeUndefined()
  })
})

describe('P4: clone failures and dying threads', () => {
  it('arguments that cannot be cloned reject, naming the task; the pool keeps working', async () => {
    const p = pool()
    const error = await rejectionOf(
      p.run(
        function useCallback(cb: () => void) {
          return typeof cb
        },
        [() => {}],
      ),
    )
    expect(error).toBeInstanceOf(TypeError)
    expect(error).toMatchObject({ code: 'ERR_THREADPOOL_DATA_CLONE' })
    expect(error.message).toMatch(/arguments of the Threadpool task "useCallback" could not be cloned/)
    expect(await p.run((x: number) => x + 1, [1])).toBe(2)
  })

  it('a result that cannot be cloned rejects, naming the task; the same thread keeps working', async () => {
    const p = pool()
    const before = await p.run(threadOf, [])
    const error = await rejectionOf(
      p.run(function makeCallback() {
        return () => 1
      }, []),
    )
    expect(error).toBeInstanceOf(TypeError)
    expect(error).toMatchObject({ code: 'ERR_THREADPOOL_DATA_CLONE' })
    expect(error.message).toMatch(/result of the Threadpool task "makeCallback" could not be cloned/)
    expect(await p.run(threadOf, [])).toBe(before)
  })

  it('process.exit() in a task rejects it with WorkerCrashedError; a concurrent task is unaffected', async () => {
    const p = pool({ maxThreads: 2 })
    const flag = newFlag()
    const exiting = p.run(
      (f: Int32Array) => {
        Atomics.store(f, 0, 1)
        Atomics.notify(f, 0)
        process.exit(3)
      },
      [flag],
    )
    const bystander = p.run(
      (f: Int32Array) => {
        Atomics.wait(f, 0, 0, 10_000)
        return 'unaffected'
      },
      [flag],
    )
    const error = await rejectionOf(exiting)
    expect(error).toBeInstanceOf(WorkerCrashedError)
    expect(error).toMatchObject({ code: 'ERR_WORKER_CRASHED', cause: 3, exitCode: 3 })
    expect(await bystander).toBe('unaffected')
    expect(await p.run((x: number) => x * 2, [21])).toBe(42)
    expect(p.stats()).toMatchObject({ failed: 1, completed: 2 })
  })

  it('an uncaught asynchronous throw in a task rejects it with WorkerCrashedError (cause: the error)', async () => {
    const p = pool()
    const error = await rejectionOf(
      p.run(() => {
        setTimeout(() => {
          throw new TypeError('boom')
        }, 1)
        return new Promise(() => {})
      }, []),
    )
    expect(error).toBeInstanceOf(WorkerCrashedError)
    expect(error.cause).toBeInstanceOf(Error)
    expect(error.cause.message).toBe('boom')
    expect(await p.run((x: number) => x, [7])).toBe(7)
  })

  it('a thread that runs out of memory (resourceLimits) rejects its task with WorkerCrashedError', async () => {
    const p = pool({ resourceLimits: { maxOldGenerationSizeMb: 32, maxYoungGenerationSizeMb: 4 } })
    const error = await rejectionOf(
      p.run(() => {
        const hog: number[][] = []
        for (;;) hog.push(new Array(100_000).fill(Math.random()))
      }, []),
    )
    expect(error).toBeInstanceOf(WorkerCrashedError)
    expect(error.cause).toMatchObject({ code: 'ERR_WORKER_OUT_OF_MEMORY' })
    expect(await p.run((x: number) => x, [1])).toBe(1)
  })
})

describe('workerTask: a module’s export', () => {
  it('runs the default or a named export, with its module state', async () => {
    const p = pool()
    expect(await p.run(workerTask<(x: number) => number>(mathTasks), [21])).toBe(42)
    expect(await p.run(workerTask<(a: number, b: number) => number>(mathTasks, 'add'), [1, 2])).toBe(3)
    expect(await p.run(workerTask<(x: number) => Promise<number>>(fileURLToPath(mathTasks), 'scaled'), [4])).toBe(40)
  })

  it('rejects with what the export threw, or a clear error for a missing export or module', async () => {
    const p = pool()
    const thrown = await rejectionOf(p.run(workerTask<(m: string) => never>(mathTasks, 'fail'), ['nope']))
    expect(thrown).toBeInstanceOf(RangeError)
    expect(thrown).toMatchObject({ message: 'nope', code: 'E_FIXTURE' })
    const missing = await rejectionOf(p.run(workerTask(mathTasks, 'notAFunction'), []))
    expect(missing).toMatchObject({ name: 'TypeError', code: 'ERR_THREADPOOL_NO_EXPORT' })
    const noModule = await rejectionOf(p.run(workerTask(new URL('./fixtures/absent.mjs', import.meta.url)), []))
    expect(noModule).toMatchObject({ code: 'ERR_MODULE_NOT_FOUND' })
  })

  it('throws at once for a module that is neither a URL nor an absolute path', () => {
    expect(() => workerTask('./relative.mjs')).toThrow(/"moduleUrl".*URL/)
    expect(() => workerTask(mathTasks, 3 as never)).toThrow(/"exportName"/)
  })
})

describe('P5: a bounded queue', () => {
  it('rejects with QueueFullError (503) past maxQueue waiting tasks', async () => {
    const p = pool({ maxQueue: 2 })
    const flag = newFlag()
    const running = rejectionOf(p.run(spin, [flag, 10_000]))
    await startedOn(flag)
    const waiting = [rejectionOf(p.run(threadOf, [])), rejectionOf(p.run(threadOf, []))]
    const error = await rejectionOfCall(() => p.run(threadOf, []))
    expect(error).toBeInstanceOf(QueueFullError)
    expect(error).toMatchObject({ code: 'ERR_QUEUE_FULL', statusCode: 503 })
    expect(p.stats()).toMatchObject({ running: 1, queued: 2 })
    await p.destroy()
    for (const outcome of [running, ...waiting]) expect(await outcome).toBeInstanceOf(ShutdownError)
  })
})

describe('tasks handed to tinypool ahead of time', () => {
  /** Reports its start through `flag`, then blocks its thread until `gate` is opened. */
  function hold(flag: Int32Array, gate: Int32Array): string {
    Atomics.store(flag, 1, process.getBuiltinModule('node:worker_threads').threadId)
    Atomics.store(flag, 0, 1)
    Atomics.notify(flag, 0)
    Atomics.wait(gate, 0, 0)
    return 'released'
  }
  const open = (gate: Int32Array): void => {
    Atomics.store(gate, 0, 1)
    Atomics.notify(gate, 0)
  }

  it('a task next in line counts as queued, and tasks finish in the order they were given', async () => {
    const p = pool({ maxThreads: 1 })
    const flag = newFlag()
    const gate = newFlag()
    const order: number[] = []
    const first = p.run(hold, [flag, gate]).then(() => order.push(0))
    await startedOn(flag)
    const rest = [1, 2, 3, 4].map((i) =>
      p.run((n: number) => n, [i], i % 2 === 0 ? { timeout: 60_000 } : undefined).then((n) => order.push(n)),
    )
    expect(p.stats()).toMatchObject({ running: 1, queued: 4 })
    open(gate)
    await Promise.all([first, ...rest])
    expect(order).toEqual([0, 1, 2, 3, 4])
    const stats = p.stats()
    expect(stats).toMatchObject({ running: 0, queued: 0, completed: 5 })
    expect(stats.waitTime.count).toBe(5)
    expect(stats.runTime.count).toBe(5)
  })

  it('a cancellable task is never handed over ahead: cancelled while queued, it leaves the threads alone', async () => {
    const p = pool({ maxThreads: 1 })
    const flag = newFlag()
    const gate = newFlag()
    const first = p.run(hold, [flag, gate])
    const thread = await startedOn(flag)
    const controller = new AbortController()
    const cancellable = p.run(threadOf, [], { signal: controller.signal })
    const plain = p.run(threadOf, [])
    expect(p.stats()).toMatchObject({ running: 1, queued: 2 })
    controller.abort()
    expect(await rejectionOf(cancellable)).toBeInstanceOf(CancelledError)
    open(gate)
    expect(await first).toBe('released')
    expect(await plain).toBe(thread) // the same thread: nothing was terminated
    expect(p.stats()).toMatchObject({ completed: 2, cancelled: 1 })
  })

  it('cancelling a running task never takes a task waiting behind it down with its thread', async () => {
    const p = pool({ maxThreads: 1 })
    const flag = newFlag()
    const controller = new AbortController()
    const doomed = p.run(spin, [flag, 10_000], { signal: controller.signal })
    await startedOn(flag)
    const waiting = [p.run((n: number) => n * 2, [1]), p.run((n: number) => n * 2, [2])]
    expect(p.stats()).toMatchObject({ running: 1, queued: 2 })
    controller.abort()
    expect(await rejectionOf(doomed)).toBeInstanceOf(CancelledError)
    expect(await Promise.all(waiting)).toEqual([2, 4])
  })
})

describe('P7: transfer', () => {
  it('moves ArrayBuffers instead of copying them', async () => {
    const p = pool()
    const sum = (buffer: ArrayBuffer): number => new Uint8Array(buffer).reduce((total, byte) => total + byte, 0)
    const copied = Uint8Array.of(1, 2, 3).buffer
    expect(await p.run(sum, [copied])).toBe(6)
    expect(copied.byteLength).toBe(3)
    const moved = Uint8Array.of(1, 2, 3).buffer
    expect(await p.run(sum, [moved], { transfer: [moved] })).toBe(6)
    expect(moved.byteLength).toBe(0) // detached: it was moved, not copied
  })
})

describe('close and destroy', () => {
  it('close() refuses new work at once, finishes queued and running tasks, then stops', async () => {
    const p = pool()
    const later = (ms: number): Promise<number> => new Promise((resolve) => setTimeout(resolve, ms, ms))
    const tasks = [p.run(later, [30]), p.run(later, [20]), p.run(later, [10])]
    const closing = p.close()
    expect(p.close()).toBe(closing)
    expect(p.closed).toBe(true)
    expect(await rejectionOfCall(() => p.run(later, [1]))).toBeInstanceOf(ClosedError)
    await closing
    expect(await Promise.all(tasks)).toEqual([30, 20, 10])
    expect(p.stats()).toMatchObject({ threads: 0, completed: 3 })
  })

  it('close({ timeout }) stops what is left at the deadline with ShutdownError', async () => {
    const p = pool()
    const flag = newFlag()
    const outcomes = [rejectionOf(p.run(spin, [flag, 10_000])), rejectionOf(p.run(threadOf, []))]
    await startedOn(flag)
    await p.close({ timeout: 100 })
    const errors = await Promise.all(outcomes)
    for (const error of errors) expect(error).toBeInstanceOf(ShutdownError)
    expect(errors[0].message).toMatch(/"spin".*close timeout \(100 ms\)/)
    expect(p.stats().threads).toBe(0)
  })

  it('destroy() stops now: pending tasks reject with ShutdownError; it is idempotent', async () => {
    const p = pool()
    const later = (ms: number): Promise<number> => new Promise((resolve) => setTimeout(resolve, ms, ms))
    const outcomes = [rejectionOf(p.run(later, [5_000])), rejectionOf(p.run(later, [5_000]))]
    const destroying = p.destroy()
    expect(p.destroy()).toBe(destroying)
    await destroying
    for (const outcome of outcomes) expect(await outcome).toMatchObject({ code: 'ERR_SHUTTING_DOWN' })
    await expect(p.close()).resolves.toBeUndefined() // close after destroy resolves
  })

  it('await using closes the pool at the end of the block, after its tasks', async () => {
    let task: Promise<number> | undefined
    let escaped: Threadpool | undefined
    {
      await using p = new Threadpool({ maxThreads: 1 })
      escaped = p
      task = p.run((x: number) => new Promise<number>((resolve) => setTimeout(resolve, 20, x)), [9])
    }
    expect(escaped.closed).toBe(true)
    expect(escaped.stats()).toMatchObject({ threads: 0, completed: 1 })
    expect(await task).toBe(9)
  })
})

describe('stats', () => {
  it('counts outcomes and reports run and wait times', async () => {
    const p = pool()
    await p.run((x: number) => x, [1])
    await p.run((x: number) => x, [2])
    await rejectionOf(
      p.run(() => {
        throw new Error('x')
      }, []),
    )
    await rejectionOf(p.run(threadOf, [], { signal: AbortSignal.abort() }))
    const stats = p.stats()
    expect(stats).toMatchObject({ threads: 1, running: 0, queued: 0, completed: 2, failed: 1, cancelled: 0 })
    expect(stats.runTime.count).toBe(3)
    expect(stats.runTime.max).toBeGreaterThan(0)
    expect(stats.runTime.p50).toBeLessThanOrEqual(stats.runTime.max)
    expect(stats.waitTime.count).toBe(3)
  })

  it('threadStats() reads each thread’s CPU time and heap from the main thread, where Node can', async () => {
    const p = pool({ minThreads: 2, maxThreads: 2 })
    const flag = newFlag()
    const running = p.run(spin, [flag, 200]) // one thread busy in a CPU loop, the other idle
    const busy = await startedOn(flag)
    const threads = await p.threadStats()
    expect(threads.map((t) => t.threadId)).toContain(busy)
    expect(threads).toHaveLength(2)
    const { Worker } = await import('node:worker_threads')
    for (const { cpu, heap } of threads) {
      if (typeof (Worker.prototype as { cpuUsage?: unknown }).cpuUsage === 'function') expect(cpu!.user + cpu!.system).toBeGreaterThan(0)
      else expect(cpu).toBeUndefined()
      if (typeof (Worker.prototype as { getHeapStatistics?: unknown }).getHeapStatistics === 'function') {
        expect(heap!.used).toBeGreaterThan(0)
        expect(heap!.limit).toBeGreaterThan(heap!.used)
      } else expect(heap).toBeUndefined()
    }
    expect(await running).toBe('finished')
    await p.destroy()
    expect(await p.threadStats()).toEqual([])
  })
})

describe('P6: the shared pool', () => {
  afterAll(() => getThreadpool().destroy())

  it('is created on first use, shared, and replaced once closed', async () => {
    const shared = getThreadpool()
    expect(getThreadpool()).toBe(shared)
    expect(await runInThreadpool((a: number, b: number) => a + b, 2, 3)).toBe(5)
    await shared.close()
    const fresh = getThreadpool()
    expect(fresh).not.toBe(shared)
    expect(fresh.closed).toBe(false)
    expect(await runInThreadpool(workerTask<(x: number) => number>(mathTasks), 4)).toBe(8)
  })

  it('does not keep the process alive: a script that used it exits by itself', async () => {
    const script = fileURLToPath(new URL('./fixtures/exit-by-itself.mjs', import.meta.url))
    // execFile rejects on a non-zero exit code, and kills the child (rejecting) if it hangs.
    const { stdout } = await promisify(execFile)(process.execPath, [script], { timeout: 15_000 })
    expect(stdout.trim()).toBe('result: 42')
  })
})
