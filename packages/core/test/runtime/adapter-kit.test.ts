import { describe, expect, it } from 'vitest'
import { createRuntime, TaskGroup } from '@taskscope/core'
import { requestAccessors, withRuntimeHandle } from '@taskscope/core/adapter'

const kRuntime = Symbol('runtime')
const kGroup = Symbol('group')

describe('requestAccessors', () => {
  it('reads the runtime stored by the middleware, and creates the group once', async () => {
    const runtime = createRuntime()
    let created = 0
    const proto = Object.defineProperties(
      {},
      requestAccessors<object>({
        name: 'req',
        runtime: kRuntime,
        group: kGroup,
        createGroup: () => {
          created++
          return new TaskGroup()
        },
      }),
    ) as { taskGroup: TaskGroup; threadpool: unknown; backgroundTasks: unknown }
    const req = Object.assign(Object.create(proto) as typeof proto, { [kRuntime]: runtime })
    const group = req.taskGroup
    expect(req.taskGroup).toBe(group)
    expect(created).toBe(1)
    expect(req.backgroundTasks).toBe(runtime.backgroundTasks)
    expect(req.threadpool).toBe(runtime.threadpool)
    await group.close()
    await runtime.close()
  })

  it('throws a clear error when the middleware did not run', () => {
    const proto = Object.defineProperties(
      {},
      requestAccessors<object>({ name: 'ctx', runtime: kRuntime, group: kGroup, createGroup: () => new TaskGroup() }),
    ) as { taskGroup: TaskGroup; backgroundTasks: unknown }
    const ctx = Object.create(proto) as typeof proto
    expect(() => ctx.taskGroup).toThrow(/ctx\.taskGroup is only available after the concurrency\(\) middleware ran/)
    expect(() => ctx.backgroundTasks).toThrow(/ctx\.backgroundTasks/)
  })
})

describe('withRuntimeHandle', () => {
  it('puts the runtime and its shortcuts on a function', async () => {
    const runtime = createRuntime()
    const handle = withRuntimeHandle(() => 'middleware', runtime)
    expect(handle()).toBe('middleware')
    expect(handle.runtime).toBe(runtime)
    expect(handle.backgroundTasks).toBe(runtime.backgroundTasks)
    expect(handle.stats()).toEqual(runtime.stats())
    await handle.close()
    expect(runtime.draining).toBe(true)
  })
})
