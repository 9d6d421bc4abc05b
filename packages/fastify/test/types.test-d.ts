// Type tests, checked by `tsc -p tsconfig.json` at the root.

import type {
  BackgroundTask,
  BackgroundTasks,
  Runtime,
  RuntimeCloseSummary,
  RuntimeStats,
  Task,
  TaskGroup,
  Threadpool,
} from '@taskscope/core'
import concurrencyPluginDefault, { concurrencyPlugin, type FastifyConcurrencyOptions } from '@taskscope/fastify'
import Fastify, { type FastifyPluginAsync } from 'fastify'
import { expectTypeOf } from 'vitest'

const app = Fastify()

// The plugin and its options.
expectTypeOf(concurrencyPlugin).toEqualTypeOf<FastifyPluginAsync<FastifyConcurrencyOptions>>()
expectTypeOf(concurrencyPluginDefault).toEqualTypeOf(concurrencyPlugin)
void app.register(concurrencyPlugin, { shutdownTimeout: 5_000, threadpool: { maxThreads: 2 }, logger: app.log })
// @ts-expect-error shutdownTimeout is a number of milliseconds
void app.register(concurrencyPlugin, { shutdownTimeout: '5s' })
// @ts-expect-error threadpool options are checked too
void app.register(concurrencyPlugin, { threadpool: { maxThreads: 'many' } })

// Instance decorators, with no cast.
expectTypeOf(app.threadpool).toEqualTypeOf<Threadpool>()
expectTypeOf(app.backgroundTasks).toEqualTypeOf<BackgroundTasks>()
expectTypeOf(app.concurrency).toEqualTypeOf<Runtime>()
expectTypeOf(app.concurrency.stats()).toEqualTypeOf<RuntimeStats>()
expectTypeOf(app.concurrency.close()).toEqualTypeOf<Promise<RuntimeCloseSummary>>()

// request.taskGroup in a handler, with no cast.
app.get('/', async (request) => {
  expectTypeOf(request.taskGroup).toEqualTypeOf<TaskGroup>()
  // Without a Register declaration, the embedded registry (the same object as app.backgroundTasks).
  expectTypeOf(request.backgroundTasks).toEqualTypeOf<BackgroundTasks>()
  const task = request.taskGroup.createTask(async (signal) => {
    expectTypeOf(signal).toEqualTypeOf<AbortSignal>()
    return 42
  })
  expectTypeOf(task).toEqualTypeOf<Task<number>>()
  // @ts-expect-error taskGroup is a TaskGroup, not a function
  request.taskGroup()
  return { value: await task }
})

// Per-route config.concurrency is typed on FastifyContextConfig.
app.get('/report', { config: { concurrency: { timeout: 2_000, limit: 4 } } }, async () => 'ok')
// @ts-expect-error timeout is a number of milliseconds
app.get('/bad', { config: { concurrency: { timeout: '2s' } } }, async () => 'ok')

// request.after / request.waitUntil: typed with no cast, returning background tasks.
app.get('/after', async (request) => {
  expectTypeOf(request.after(async (signal, outcome) => Number(outcome === undefined && !signal.aborted))).toEqualTypeOf<
    BackgroundTask<number>
  >()
  expectTypeOf(request.waitUntil(async () => 'x')).toEqualTypeOf<BackgroundTask<string>>()
  expectTypeOf(request.waitUntil(Promise.resolve(true))).toEqualTypeOf<BackgroundTask<boolean>>()
  // @ts-expect-error after takes a function
  request.after(Promise.resolve(1))
  return 'ok'
})
