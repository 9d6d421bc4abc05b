// Type tests: compiled by `tsc -p tsconfig.json` only (vitest runs *.test.ts, not this file).
// Each `@ts-expect-error` fails the type-check if the wrong use stops being an error.

import {
  AsyncEvent,
  AsyncLazy,
  type AsyncLazyState,
  type BackgroundShutdownReport,
  BackgroundTask,
  type BackgroundTaskInfo,
  type BackgroundTaskStatus,
  BackgroundTasks,
  CancelledError,
  createBackgroundTask,
  createRuntime,
  firstSuccessful,
  isCancellation,
  type RaceEntry,
  type Runtime,
  runUntilFirstComplete,
  Task,
  TaskGroupError,
  TimeoutError,
} from '@taskscope/core'
import { expectTypeOf } from 'vitest'

declare const signal: AbortSignal

// --- createBackgroundTask / BackgroundTask ---------------------------------------------------
{
  const job = createBackgroundTask(async () => 1)
  expectTypeOf(job).toEqualTypeOf<BackgroundTask<number>>()
  expectTypeOf(job).toExtend<PromiseLike<number>>()
  expectTypeOf(job.id).toEqualTypeOf<string>()
  expectTypeOf(job.name).toEqualTypeOf<string>()
  expectTypeOf(job.startedAt).toEqualTypeOf<Date>()
  expectTypeOf(job.durationMs).toEqualTypeOf<number>()
  expectTypeOf(job.signal).toEqualTypeOf<AbortSignal>()
  expectTypeOf(job.status).toEqualTypeOf<BackgroundTaskStatus>()
  expectTypeOf<BackgroundTaskStatus>().toEqualTypeOf<'running' | 'fulfilled' | 'rejected' | 'cancelled'>()
  expectTypeOf(job.cancel).toBeCallableWith()
  expectTypeOf(job.cancel).toBeCallableWith('any reason')
  expectTypeOf(job).toExtend<AsyncDisposable>()

  const run = async (): Promise<void> => {
    const value = await job
    expectTypeOf(value).toEqualTypeOf<number>()
    expectTypeOf(await createBackgroundTask(() => 'sync')).toEqualTypeOf<string>()
    expectTypeOf(await createBackgroundTask(Promise.resolve(true))).toEqualTypeOf<boolean>()
    expectTypeOf(job.then((n) => String(n))).toEqualTypeOf<Promise<string>>()
    await using scoped = createBackgroundTask(
      async (s) => {
        expectTypeOf(s).toEqualTypeOf<AbortSignal>()
      },
      { name: 'scoped' },
    )
    expectTypeOf(scoped).toEqualTypeOf<BackgroundTask<void>>()

    // @ts-expect-error the value is a number, not a string
    const wrong: string = await job
    void wrong
  }
  void run

  // @ts-expect-error work must be a function or a promise
  createBackgroundTask(42)
  // @ts-expect-error name must be a string
  createBackgroundTask(async () => 1, { name: 1 })
}

// --- BackgroundTasks --------------------------------------------------------------------------
{
  const tasks = new BackgroundTasks({
    onError(error, task) {
      expectTypeOf(error).toEqualTypeOf<unknown>()
      expectTypeOf(task).toExtend<BackgroundTask>()
    },
  })
  expectTypeOf(tasks.add(async () => 1, { name: 'n' })).toEqualTypeOf<BackgroundTask<number>>()
  expectTypeOf(tasks.active).toEqualTypeOf<number>()
  expectTypeOf(tasks.closed).toEqualTypeOf<boolean>()
  expectTypeOf(tasks.list()).toEqualTypeOf<BackgroundTaskInfo[]>()
  expectTypeOf<BackgroundTaskInfo>().toEqualTypeOf<{
    id: string
    name: string
    status: BackgroundTaskStatus
    startedAt: Date
    durationMs: number
  }>()
  expectTypeOf(tasks.get('id')).toEqualTypeOf<BackgroundTask | undefined>()
  expectTypeOf(tasks.shutdown({ timeout: 1, grace: 1 })).toEqualTypeOf<Promise<BackgroundShutdownReport>>()
  expectTypeOf<BackgroundShutdownReport>().toEqualTypeOf<{ completed: number; failed: number; cancelled: number; abandoned: number }>()
  expectTypeOf(tasks).toExtend<AsyncDisposable>()

  // @ts-expect-error work must be a function or a promise
  tasks.add('work')
  // @ts-expect-error timeout is a number
  void tasks.shutdown({ timeout: '5s' })
  // @ts-expect-error unknown option
  new BackgroundTasks({ onErorr: () => {} })
}

// --- runUntilFirstComplete / firstSuccessful ------------------------------------------------
{
  expectTypeOf(
    runUntilFirstComplete(
      async () => 1,
      async () => 'a',
    ),
  ).toEqualTypeOf<Promise<number | string>>()
  expectTypeOf(runUntilFirstComplete(async () => 1)).toEqualTypeOf<Promise<number>>()

  const fetchFrom = async (url: string, s: AbortSignal): Promise<{ url: string }> => {
    expectTypeOf(s).toEqualTypeOf<AbortSignal>()
    return { url }
  }
  expectTypeOf(runUntilFirstComplete([fetchFrom, 'https://backup'])).toEqualTypeOf<Promise<{ url: string }>>()
  expectTypeOf(runUntilFirstComplete(async () => 0, [fetchFrom, 'https://backup'])).toEqualTypeOf<Promise<number | { url: string }>>()
  // Several entries: parameters are contextually typed.
  expectTypeOf(
    runUntilFirstComplete(
      (s) => s.aborted,
      (s) => 1,
    ),
  ).toEqualTypeOf<Promise<boolean | number>>()
  expectTypeOf(firstSuccessful([(s) => s.aborted])).toEqualTypeOf<Promise<boolean>>()
  expectTypeOf(firstSuccessful([(s) => s.aborted], { signal, timeout: 1 })).toEqualTypeOf<Promise<boolean>>()

  // Options last, and single entries with unannotated signal parameters.
  expectTypeOf(
    runUntilFirstComplete(
      () => true,
      async () => 1,
      { timeout: 5, signal },
    ),
  ).toEqualTypeOf<Promise<boolean | number>>()
  expectTypeOf(runUntilFirstComplete(async () => 1, { timeout: 5 })).toEqualTypeOf<Promise<number>>()
  expectTypeOf(runUntilFirstComplete([fetchFrom, 'u'], { signal })).toEqualTypeOf<Promise<{ url: string }>>()
  expectTypeOf(runUntilFirstComplete((s) => s.aborted)).toEqualTypeOf<Promise<boolean>>()
  expectTypeOf(runUntilFirstComplete((s) => s.aborted, { signal })).toEqualTypeOf<Promise<boolean>>()
  expectTypeOf(runUntilFirstComplete([(url: string, s) => url, 'x'])).toEqualTypeOf<Promise<string>>()

  expectTypeOf(firstSuccessful([async () => 1])).toEqualTypeOf<Promise<number>>()
  expectTypeOf(firstSuccessful([async () => 1, () => 'a'], { timeout: 10 })).toEqualTypeOf<Promise<number | string>>()
  expectTypeOf(firstSuccessful([[fetchFrom, 'x']] as const)).toEqualTypeOf<Promise<{ url: string }>>()
  const entry: RaceEntry<number> = async () => 1
  const pair: RaceEntry<{ url: string }> = [fetchFrom, 'x']
  void entry
  void pair

  // @ts-expect-error an entry must be a function or a [fn, arg] pair
  void runUntilFirstComplete(42)
  // @ts-expect-error firstSuccessful takes an array of entries
  void firstSuccessful(async () => 1)
  // @ts-expect-error timeout is a number
  void firstSuccessful([async () => 1], { timeout: 'soon' })
}

// --- AsyncEvent -------------------------------------------------------------------------------
{
  const event = new AsyncEvent()
  expectTypeOf(event.wait()).toEqualTypeOf<Promise<true>>()
  expectTypeOf(event.wait({ signal, timeout: 10 })).toEqualTypeOf<Promise<true>>()
  expectTypeOf(event.isSet).toEqualTypeOf<boolean>()
  expectTypeOf(event.waiting).toEqualTypeOf<number>()
  expectTypeOf(event.set).returns.toEqualTypeOf<void>()
  expectTypeOf(event.clear).returns.toEqualTypeOf<void>()

  // @ts-expect-error timeout is a number
  void event.wait({ timeout: '1s' })
  // @ts-expect-error signal is an AbortSignal
  void event.wait({ signal: true })
}

// --- AsyncLazy --------------------------------------------------------------------------------
{
  const lazy = new AsyncLazy(async () => 'x')
  expectTypeOf(lazy).toEqualTypeOf<AsyncLazy<string>>()
  expectTypeOf(lazy.get()).toEqualTypeOf<Promise<string>>()
  expectTypeOf(lazy.get({ signal })).toEqualTypeOf<Promise<string>>()
  expectTypeOf(lazy.peek()).toEqualTypeOf<string | undefined>()
  expectTypeOf(lazy.state).toEqualTypeOf<AsyncLazyState>()
  expectTypeOf<AsyncLazyState>().toEqualTypeOf<'empty' | 'pending' | 'ready'>()
  expectTypeOf(new AsyncLazy(() => 42).get()).toEqualTypeOf<Promise<number>>()
  expectTypeOf(
    new AsyncLazy(
      (s) => {
        expectTypeOf(s).toEqualTypeOf<AbortSignal>()
        return Promise.resolve(null)
      },
      { ttl: 1_000 },
    ).get(),
  ).toEqualTypeOf<Promise<null>>()

  // @ts-expect-error the factory must be a function
  new AsyncLazy(42)
  // @ts-expect-error ttl is a number
  new AsyncLazy(async () => 1, { ttl: 'x' })
  // @ts-expect-error get's signal is an AbortSignal
  void lazy.get({ signal: 'x' })
}

// --- errors -----------------------------------------------------------------------------------
{
  expectTypeOf(isCancellation).parameter(0).toEqualTypeOf<unknown>()
  expectTypeOf(isCancellation).returns.toEqualTypeOf<boolean>()
  expectTypeOf(new CancelledError().code).toEqualTypeOf<string>()
  expectTypeOf(new CancelledError().statusCode).toEqualTypeOf<number>()
  expectTypeOf(new TimeoutError()).toExtend<CancelledError>()
  expectTypeOf(new TaskGroupError([]).errors).toEqualTypeOf<any[]>()
  expectTypeOf(new TaskGroupError([]).code).toEqualTypeOf<string>()
}

// Task, BackgroundTask and Runtime come from factories; their constructors are private.
{
  // @ts-expect-error a Task is made by group.createTask()
  new Task<number>()
  // @ts-expect-error a BackgroundTask is made by createBackgroundTask() or backgroundTasks.add()
  new BackgroundTask<number>()
  const runtime = createRuntime()
  // @ts-expect-error a Runtime is made by createRuntime()
  ;new (runtime.constructor as typeof Runtime)()
  // @ts-expect-error internal members are not part of the type
  void (null as unknown as Task<number>).abort
}
