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
import { type ConcurrencyMiddleware, concurrency } from '@taskscope/koa'
import Koa from 'koa'
import { expectTypeOf } from 'vitest'

const c = concurrency({ shutdownTimeout: 5_000 })
expectTypeOf(c).toEqualTypeOf<ConcurrencyMiddleware>()
// @ts-expect-error shutdownTimeout is a number of milliseconds
concurrency({ shutdownTimeout: '5s' })

// The app-level handle.
expectTypeOf(c.runtime).toEqualTypeOf<Runtime>()
expectTypeOf(c.threadpool).toEqualTypeOf<Threadpool>()
expectTypeOf(c.backgroundTasks).toEqualTypeOf<BackgroundTasks>()
expectTypeOf(c.stats()).toEqualTypeOf<RuntimeStats>()
expectTypeOf(c.close()).toEqualTypeOf<Promise<RuntimeCloseSummary>>()
declare const server: Server
expectTypeOf(c.attach(server)).toEqualTypeOf<Server>()

// ctx.taskGroup on the default context, with no cast.
const app = new Koa()
app.use(c)
app.use(async (ctx) => {
  expectTypeOf(ctx.taskGroup).toEqualTypeOf<TaskGroup>()
  expectTypeOf(ctx.threadpool).toEqualTypeOf<Threadpool>()
  expectTypeOf(ctx.backgroundTasks).toEqualTypeOf<BackgroundTasks>()
  const task = ctx.taskGroup.createTask(async () => 1)
  expectTypeOf(task).toEqualTypeOf<Task<number>>()
  ctx.body = await task
})

// ...and on an app with custom state and context types (BaseContext, not DefaultContext).
interface State {
  user: string
}
interface Custom {
  requestId: string
}
const typed = new Koa<State, Custom>()
typed.use(c)
typed.use(async (ctx) => {
  expectTypeOf(ctx.taskGroup).toEqualTypeOf<TaskGroup>()
  expectTypeOf(ctx.requestId).toEqualTypeOf<string>()
  // @ts-expect-error with a custom context type, a typo does not compile
  void ctx.taskgroup
})

// Per-route options: c.route() is a Koa middleware, also on a typed app.
app.use(c.route({ timeout: 2_000, limit: 4 }))
typed.use(c.route({ limit: 1 }))
// @ts-expect-error unknown option (typo)
c.route({ timout: 2_000 })

// ctx.after / ctx.waitUntil: typed with no cast, returning background tasks.
new Koa().use(async (ctx) => {
  expectTypeOf(ctx.after(async () => 'done')).toEqualTypeOf<BackgroundTask<string>>()
  expectTypeOf(ctx.waitUntil(async () => 1)).toEqualTypeOf<BackgroundTask<number>>()
  // @ts-expect-error after takes a function
  ctx.after(1)
})
