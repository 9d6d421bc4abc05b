import http from 'node:http'
import net from 'node:net'
import { createRuntime, type Runtime, TaskGroup } from '@taskscope/core'
import { requestBinding } from '@taskscope/core/adapter'
import { memoryLogger, untilAborted } from '@taskscope/test-support'
import { describe, expect, it } from 'vitest'

interface FakeRequest {
  raw: http.IncomingMessage
  taskGroup: TaskGroup
  threadpool: unknown
  backgroundTasks: unknown
}

function setup() {
  const binding = requestBinding<FakeRequest>({
    name: 'req',
    namespace: `test-${Math.random()}`,
    adapter: 'concurrency()',
    install: 'app.use(concurrency())',
    request: (target) => target.raw,
  })
  const proto = Object.defineProperties({}, binding.accessors)
  const raw = new http.IncomingMessage(new net.Socket())
  const make = (): FakeRequest => Object.assign(Object.create(proto) as FakeRequest, { raw })
  return { binding, make, res: new http.ServerResponse(raw) }
}

describe('requestBinding', () => {
  it('mounts a runtime once per request; the getters read it and create the group once', async () => {
    const { binding, make, res } = setup()
    const log = memoryLogger()
    const runtime = createRuntime({ logger: log.logger })
    const req = make()
    expect(binding.mount(req, runtime, res)).toBe(true)
    expect(binding.mount(req, runtime, res)).toBe(false) // the same middleware again: nothing to do
    expect(binding.group(req)).toBeUndefined()
    const group = req.taskGroup
    expect(group).toBeInstanceOf(TaskGroup)
    expect(req.taskGroup).toBe(group)
    expect(binding.group(req)).toBe(group)
    expect(req.backgroundTasks).toBe(runtime.backgroundTasks)
    expect(runtime.stats().requests.active).toBe(1)
    group.cancel()
    await runtime.close({ timeout: 0 })
    // Its response never ends (nothing serves it): the summary says so, naming it without method or URL.
    expect(log.entries.at(-1)).toMatchObject({ level: 'warn', message: expect.stringContaining('request "request" (still running)') })
  })

  it('refuses a second, different runtime on one request with ERR_TASKSCOPE_ALREADY_REGISTERED', async () => {
    const { binding, make, res } = setup()
    const [first, second]: Runtime[] = [createRuntime(), createRuntime()]
    const req = make()
    binding.mount(req, first!, res)
    expect(() => binding.mount(req, second!, res)).toThrow(
      expect.objectContaining({
        code: 'ERR_TASKSCOPE_ALREADY_REGISTERED',
        message: expect.stringMatching(/concurrency\(\) is already installed/),
      }),
    )
    await Promise.all([first!.close(), second!.close()])
  })

  it('reading a getter before the mount throws ERR_TASKSCOPE_NOT_REGISTERED, naming the property', () => {
    const { make } = setup()
    const req = make()
    for (const property of ['taskGroup', 'threadpool', 'backgroundTasks'] as const) {
      expect(() => req[property]).toThrow(
        expect.objectContaining({
          code: 'ERR_TASKSCOPE_NOT_REGISTERED',
          message: expect.stringContaining(`req.${property} is not available here: concurrency() has not run for this request`),
        }),
      )
    }
  })

  it('applies route options to the group; refuses them once the group exists or before the mount', async () => {
    const { binding, make, res } = setup()
    const log = memoryLogger()
    const runtime = createRuntime({ logger: log.logger })
    expect(() => binding.setRouteOptions(make(), { limit: 1 })).toThrow(expect.objectContaining({ code: 'ERR_TASKSCOPE_NOT_REGISTERED' }))
    const req = make()
    binding.mount(req, runtime, res)
    binding.setRouteOptions(req, { limit: 1 })
    const first = req.taskGroup.createTask(untilAborted)
    const second = req.taskGroup.createTask(async () => 2)
    expect([first.status, second.status]).toEqual(['running', 'queued'])
    expect(() => binding.setRouteOptions(req, { limit: 2 })).toThrow(
      expect.objectContaining({ code: 'ERR_TASKSCOPE_GROUP_CREATED', message: expect.stringMatching(/after req\.taskGroup was created/) }),
    )
    req.taskGroup.cancel()
    await Promise.allSettled([first, second])
    await runtime.close({ timeout: 0 })
    expect(log.entries.at(-1)).toMatchObject({ level: 'warn', message: expect.stringContaining('request "request" (still running)') })
  })

  it("merges the route's options with the adapter's (the adapter's win) and hands the adapter's to `created`", async () => {
    const log = memoryLogger()
    const seen: unknown[] = []
    const binding = requestBinding<FakeRequest>({
      name: 'req',
      namespace: `test-${Math.random()}`,
      adapter: 'concurrency()',
      install: 'app.use(concurrency())',
      request: (target) => target.raw,
      groupOptions: () => ({ timeout: 60_000, logger: log.logger }),
      created: (group, _target, options) => seen.push(group, options),
    })
    const proto = Object.defineProperties({}, binding.accessors)
    const raw = new http.IncomingMessage(new net.Socket())
    const runtime = createRuntime({ logger: memoryLogger().logger })
    const req = Object.assign(Object.create(proto) as FakeRequest, { raw })
    binding.mount(req, runtime, new http.ServerResponse(raw))
    const route = Object.freeze({ limit: 1, timeout: 5_000 })
    binding.setRouteOptions(req, route)
    const group = req.taskGroup
    expect(seen).toEqual([group, { timeout: 60_000, logger: log.logger }])
    // limit from the route, timeout from the adapter's options (which come last)
    const deadline = group.deadline!
    expect(deadline - Date.now()).toBeGreaterThan(50_000)
    const first = group.createTask(untilAborted)
    expect(group.createTask(async () => 2).status).toBe('queued')
    expect(route).toEqual({ limit: 1, timeout: 5_000 }) // never mutated
    group.cancel()
    await Promise.allSettled([first])
    await runtime.close({ timeout: 0 })
  })
})
