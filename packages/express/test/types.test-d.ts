// Type tests, checked by `tsc -p tsconfig.json` at the root.
import type { Server } from 'node:http'
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
import { type ConcurrencyMiddleware, concurrency } from '@taskscope/express'
import express from 'express'
import { expectTypeOf } from 'vitest'

const app = express()
const c = concurrency({ shutdownTimeout: 5_000, threadpool: { maxThreads: 2 } })
expectTypeOf(c).toEqualTypeOf<ConcurrencyMiddleware>()
// @ts-expect-error shutdownTimeout is a number of milliseconds
concurrency({ shutdownTimeout: '5s' })

// Mounts as a middleware and as an error middleware, with Express' own types.
app.use(c)
app.use(c.errorHandler())

// The app-level handle.
expectTypeOf(c.runtime).toEqualTypeOf<Runtime>()
expectTypeOf(c.threadpool).toEqualTypeOf<Threadpool>()
expectTypeOf(c.backgroundTasks).toEqualTypeOf<BackgroundTasks>()
expectTypeOf(c.stats()).toEqualTypeOf<RuntimeStats>()
expectTypeOf(c.close()).toEqualTypeOf<Promise<RuntimeCloseSummary>>()
declare const server: Server
expectTypeOf(c.attach(server)).toEqualTypeOf<Server>()

// req.taskGroup, req.threadpool, req.backgroundTasks, with no cast.
app.get('/', async (req, res) => {
  expectTypeOf(req.taskGroup).toEqualTypeOf<TaskGroup>()
  expectTypeOf(req.threadpool).toEqualTypeOf<Threadpool>()
  expectTypeOf(req.backgroundTasks).toEqualTypeOf<BackgroundTasks>()
  const task = req.taskGroup.createTask(async () => 'x')
  expectTypeOf(task).toEqualTypeOf<Task<string>>()
  // @ts-expect-error there is no req.taskgroup (typo)
  void req.taskgroup
  res.send(await task)
})

// Per-route options: c.route() is a route middleware with Express' own types.
app.get('/report', c.route({ timeout: 2_000, limit: 4 }), (req, res) => {
  expectTypeOf(req.taskGroup).toEqualTypeOf<TaskGroup>()
  res.end()
})
// @ts-expect-error unknown option (typo)
c.route({ timout: 2_000 })

// req.after / req.waitUntil: typed with no cast, returning background tasks.
app.get('/after', (req, res) => {
  expectTypeOf(req.after(async (_signal, outcome) => outcome?.code)).toEqualTypeOf<BackgroundTask<string | undefined>>()
  expectTypeOf(req.waitUntil(async () => 1)).toEqualTypeOf<BackgroundTask<number>>()
  // @ts-expect-error after takes a function
  req.after('audit')
  res.end()
})
