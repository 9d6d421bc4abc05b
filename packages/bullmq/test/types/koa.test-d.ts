// Koa with a BullmqBackgroundTasks declared in Register: ctx typed as it.
import type { BullmqBackgroundTasks, BullmqTask, BullmqTaskInfo } from '@taskscope/bullmq'
import { concurrency } from '@taskscope/koa'
import Koa from 'koa'
import { expectTypeOf } from 'vitest'
import { sendNewsletter } from './register.ts'

declare const backgroundTasks: BullmqBackgroundTasks
const app = new Koa()
app.use(concurrency({ backgroundTasks }))
app.use(async (ctx) => {
  expectTypeOf(ctx.backgroundTasks).toEqualTypeOf<BullmqBackgroundTasks>()
  const job = ctx.backgroundTasks.add(sendNewsletter, { list: 'weekly' })
  expectTypeOf(job).toEqualTypeOf<BullmqTask<{ sent: number }>>()
  expectTypeOf(ctx.backgroundTasks.get(job.id)).toEqualTypeOf<Promise<BullmqTaskInfo | undefined>>()
  // @ts-expect-error a closure cannot travel to the queue
  ctx.backgroundTasks.add(async () => 1)
  ctx.body = { id: job.id }
})
