// Express with a BullmqBackgroundTasks declared in Register: req typed as it.
import type { BullmqBackgroundTasks, BullmqTask, BullmqTaskInfo } from '@taskscope/bullmq'
import { concurrency } from '@taskscope/express'
import express from 'express'
import { expectTypeOf } from 'vitest'
import { sendNewsletter } from './register.ts'

declare const backgroundTasks: BullmqBackgroundTasks
const c = concurrency({ backgroundTasks })
expectTypeOf(c.backgroundTasks).toEqualTypeOf<BullmqBackgroundTasks>()
const app = express()
app.use(c)
app.get('/', async (req, res) => {
  expectTypeOf(req.backgroundTasks).toEqualTypeOf<BullmqBackgroundTasks>()
  const job = req.backgroundTasks.add(sendNewsletter, { list: 'weekly' })
  expectTypeOf(job).toEqualTypeOf<BullmqTask<{ sent: number }>>()
  expectTypeOf(req.backgroundTasks.get(job.id)).toEqualTypeOf<Promise<BullmqTaskInfo | undefined>>()
  // @ts-expect-error a closure cannot travel to the queue
  req.backgroundTasks.add(async () => 1)
  res.json({ id: job.id })
})
