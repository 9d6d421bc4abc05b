// Fastify with a BullmqBackgroundTasks declared in Register: app and request typed as it.
import { type BullmqBackgroundTasks, BullmqTask, type BullmqTaskInfo } from '@taskscope/bullmq'
import { concurrencyPlugin } from '@taskscope/fastify'
import Fastify from 'fastify'
import { expectTypeOf } from 'vitest'
import { sendNewsletter } from './register.ts'

declare const backgroundTasks: BullmqBackgroundTasks
const app = Fastify()
void app.register(concurrencyPlugin, { backgroundTasks })

expectTypeOf(app.backgroundTasks).toEqualTypeOf<BullmqBackgroundTasks>()
app.get('/', async (request) => {
  expectTypeOf(request.backgroundTasks).toEqualTypeOf<BullmqBackgroundTasks>()
  const job = request.backgroundTasks.add(sendNewsletter, { list: 'weekly' }, { id: 'weekly-48', attempts: 3 })
  expectTypeOf(job).toEqualTypeOf<BullmqTask<{ sent: number }>>()
  // get() and list() read the queue: Promises of snapshots, not handles.
  expectTypeOf(request.backgroundTasks.get('weekly-48')).toEqualTypeOf<Promise<BullmqTaskInfo | undefined>>()
  expectTypeOf(request.backgroundTasks.list()).toEqualTypeOf<Promise<BullmqTaskInfo[]>>()
  // @ts-expect-error a closure cannot travel to the queue
  request.backgroundTasks.add(async () => 1)
  // @ts-expect-error the data must match the task's
  request.backgroundTasks.add(sendNewsletter, { list: 48 })
  return { id: job.id }
})

// @ts-expect-error a handle is made by add(), never by new
new BullmqTask()
