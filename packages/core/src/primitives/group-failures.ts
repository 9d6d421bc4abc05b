// What `close()` reports when tasks of a group failed: the failures nobody observed, in one
// TaskGroupError.
import { TaskGroupError } from '../errors.js'
import { kError, kObserved } from '../internal/symbols.js'
import type { Task } from './task.js'
import type { ChildGroups } from './task-group-children.js'

/** @internal The TaskGroupError of the failed tasks nobody observed, or undefined when there is none. */
export function unobservedFailures(
  failures: Task<unknown>[],
  groupName: string | undefined,
  children: ChildGroups | undefined,
): TaskGroupError | undefined {
  const unobserved = failures.filter((task) => !task[kObserved])
  if (unobserved.length === 0) return undefined
  // A child's failures are listed as this group's own, not wrapped in the child's TaskGroupError.
  const errors = unobserved.flatMap((task) => (children?.isChild(task) ? (task[kError] as TaskGroupError).errors : [task[kError]]))
  return new TaskGroupError(
    errors,
    `${unobserved.length} task${unobserved.length === 1 ? '' : 's'} of the group${groupName ? ` "${groupName}"` : ''} failed: ${unobserved.map((task) => task.name).join(', ')}`,
  )
}
