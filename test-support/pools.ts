import { Threadpool, type ThreadpoolOptions } from '@taskscope/core'
import { afterEach } from 'vitest'

/**
 * A factory of one-thread pools (unless told otherwise) that are all destroyed after each test.
 * Call it at the top of a test file.
 */
export function poolsForEachTest(): (options?: ThreadpoolOptions) => Threadpool {
  const pools: Threadpool[] = []
  afterEach(async () => {
    await Promise.all(pools.splice(0).map((p) => p.destroy()))
  })
  return (options) => {
    const created = new Threadpool({ maxThreads: 1, ...options })
    pools.push(created)
    return created
  }
}
