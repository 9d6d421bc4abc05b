// Nest creates every provider when the app starts; the app's pool must still start only when
// something runs on it. The injected Threadpool is a stand-in that forwards to the runtime's pool,
// read (and so started) on first use.

import type { Runtime } from '@taskscope/core'
import { Threadpool } from '@taskscope/core'

/**
 * A `Threadpool` (`instanceof` holds) whose every member is the runtime's pool's, started on
 * first use of one: injecting it starts no thread.
 */
export function lazyThreadpool(runtime: Runtime): Threadpool {
  return new Proxy(Object.create(Threadpool.prototype) as Threadpool, {
    // Nest looks for lifecycle hooks (`onModuleInit`...) on every provider: only the pool's own
    // members start it.
    get(_target, key) {
      if (key === 'constructor') return Threadpool
      if (!Reflect.has(Threadpool.prototype, key)) return undefined
      const pool = runtime.threadpool
      const value: unknown = Reflect.get(pool, key, pool)
      return typeof value === 'function' ? value.bind(pool) : value
    },
    has: (_target, key) => Reflect.has(Threadpool.prototype, key),
    set: () => false,
  })
}
