// `createTaskGroup()`: a TaskGroup as an async generator, for `for await` scopes.
import { TaskGroup } from './task-group.js'
import type { TaskGroupOptions } from './task-group-options.js'

/**
 * Nexios' `async for` form: yields one new {@link TaskGroup} and closes it when the loop body ends.
 *
 * @example
 * ```ts
 * for await (const group of createTaskGroup({ limit: 4 })) {
 *   for (const url of urls) group.createTask((signal) => fetch(url, { signal }))
 * }
 * ```
 */
export function createTaskGroup(options?: TaskGroupOptions): AsyncGenerator<TaskGroup, void, undefined> {
  const group = new TaskGroup(options) // validates now, at the call, not at the first iteration
  return (async function* scope() {
    try {
      yield group
    } finally {
      await group.close()
    }
  })()
}
