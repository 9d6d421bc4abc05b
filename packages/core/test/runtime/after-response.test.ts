// The kit's after()/waitUntil() with a distributed registry (one that takes only defineTask tasks,
// as @taskscope/bullmq's): closures cannot travel, so they run in a small embedded registry of
// the runtime's own, counted in stats() and drained on shutdown with the rest.
import http from 'node:http'
import { type BackgroundRegistry, type BackgroundSnapshot, type BackgroundTask, createRuntime, type TaskGroup } from '@taskscope/core'
import { requestBinding } from '@taskscope/core/adapter'
import { cleanup, closeLater, deferred, httpRequest, listenOnLoopback, memoryLogger } from '@taskscope/test-support'
import { afterEach, describe, expect, it } from 'vitest'

afterEach(cleanup)

interface Scoped {
  raw: http.IncomingMessage
  taskGroup: TaskGroup
  after(work: (signal: AbortSignal, outcome: unknown) => unknown): BackgroundTask
  waitUntil(work: unknown): BackgroundTask
}

function distributedRegistry() {
  const registry = {
    added: 0,
    active: 0,
    closed: false,
    add(): never {
      registry.added++
      throw new Error('a closure cannot travel')
    },
    list: () => [],
    snapshot: (): BackgroundSnapshot => ({ running: [], outcomes: { fulfilled: 0, rejected: 0, cancelled: 0 }, store: 'available' }),
    async shutdown() {
      return { completed: 0, failed: 0, cancelled: 0, abandoned: 0, requeued: 0 }
    },
  }
  return registry satisfies BackgroundRegistry
}

describe('after() and waitUntil() with a distributed registry', () => {
  it('run locally, are counted in stats(), and shutdown drains them', async () => {
    const registry = distributedRegistry()
    const { logger } = memoryLogger()
    const runtime = createRuntime({ backgroundTasks: registry, logger })
    const binding = requestBinding<Scoped>({
      name: 'req',
      namespace: `test-${Math.random()}`,
      adapter: 'x',
      install: 'y',
      request: (t) => t.raw,
    })
    const proto = Object.defineProperties({}, binding.accessors)
    const release = deferred()
    const scheduled = deferred<BackgroundTask[]>()
    const server = closeLater(
      http.createServer((req, res) => {
        const target = Object.assign(Object.create(proto) as Scoped, { raw: req })
        binding.mount(target, runtime, res)
        binding.run(target, () => {
          const after = target.after(async () => {
            await release.promise
            return 'after ran'
          })
          const now = target.waitUntil(() => release.promise.then(() => 'waitUntil ran'))
          scheduled.resolve([after, now])
          res.end('ok')
        })
      }),
    )
    const port = await listenOnLoopback(server)
    expect((await httpRequest(port, { path: '/audit' }).response).body).toBe('ok')
    const [after, now] = await scheduled.promise
    expect(registry.added).toBe(0)
    expect(after!.name).toBe('GET /audit')
    expect(runtime.stats().background.active).toBe(2)
    const closing = runtime.close()
    release.resolve()
    const summary = await closing
    expect(await after).toBe('after ran')
    expect(await now).toBe('waitUntil ran')
    expect(summary.background).toMatchObject({ completed: 2, requeued: 0 })
  })
})
