import { expect, it } from 'vitest'
import { TaskGroup } from '@taskscope/core'

it('await using works', async () => {
  const order: string[] = []
  {
    await using group = new TaskGroup()
    group.createTask(async () => { await new Promise((r) => setTimeout(r, 5)); order.push('task') })
  }
  order.push('after')
  expect(order).toEqual(['task', 'after'])
})
