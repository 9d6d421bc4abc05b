// Type tests: compiled by `tsc -p tsconfig.json` only (vitest runs *.test.ts, not this file).
// Each `@ts-expect-error` fails the type-check if the wrong use stops being an error.

import { type BackgroundRegistry, type BackgroundTask, BackgroundTasks, defineTask, type TaskDefinition } from '@taskscope/core'
import { expectTypeOf } from 'vitest'

const tasks = new BackgroundTasks()

// defineTask: data and result types come from the function.
const send = defineTask('newsletter.send', async (data: { list: string }, signal: AbortSignal) => {
  expectTypeOf(signal).toEqualTypeOf<AbortSignal>()
  return { sent: data.list.length }
})
expectTypeOf(send).toEqualTypeOf<TaskDefinition<{ list: string }, { sent: number }>>()
expectTypeOf(send.name).toEqualTypeOf<string>()

// add(task, data): data and result typed from the definition.
{
  const job = tasks.add(send, { list: 'weekly' }, { id: 'weekly-48' })
  expectTypeOf(job).toEqualTypeOf<BackgroundTask<{ sent: number }>>()
  const readSent = async (): Promise<number> => (await job).sent
  void readSent
  // @ts-expect-error wrong data type
  tasks.add(send, { list: 1 })
  // @ts-expect-error missing data
  tasks.add(send)
  // @ts-expect-error unknown option
  tasks.add(send, { list: 'x' }, { name: 'x' })
}

// A synchronous task: the result is the value.
{
  const double = defineTask('double', (data: number) => data * 2)
  expectTypeOf(tasks.add(double, 2)).toEqualTypeOf<BackgroundTask<number>>()
}

// add(work, { name }) keeps its types.
{
  expectTypeOf(tasks.add(async () => 'x', { name: 'plain' })).toEqualTypeOf<BackgroundTask<string>>()
  // @ts-expect-error the options of a plain work have no id
  tasks.add(async () => 'x', { id: 'x' })
}

// @ts-expect-error the name must be a string
defineTask(1, () => 1)

// The embedded registry is a BackgroundRegistry.
{
  const registry: BackgroundRegistry = new BackgroundTasks()
  const double = defineTask('double', (data: number) => data * 2)
  expectTypeOf(registry.add(double, 2)).toExtend<PromiseLike<number>>()
}
