// The options of a TaskGroup and of its child groups.
import type { TaskGroupError, TimeoutError } from '../errors.js'
import type { TaskGroup } from './task-group.js'

/** Options of {@link TaskGroup}. */
export interface TaskGroupOptions {
  /** A parent signal: when it aborts, the group is cancelled and `close()` rejects with the reason. */
  signal?: AbortSignal
  /**
   * At most this many tasks run at once; the rest wait in FIFO order.
   * @default Infinity
   */
  limit?: number
  /** Cancels the group with a {@link TimeoutError} this many ms after it was created. */
  timeout?: number
  /** A name for errors and logs. */
  name?: string
  /**
   * `true` (the default): the first failure cancels every other task. `false` (a supervisor, as
   * Kotlin's `supervisorScope`): a failure cancels nothing, the other tasks run on, and `close()`
   * still rejects with a {@link TaskGroupError} of the failures nobody observed.
   */
  failFast?: boolean
}

/** Options of {@link TaskGroup.child}: those of a group, without `signal` (the parent is the parent). */
export interface ChildTaskGroupOptions {
  /** Cancels the child (alone) with a {@link TimeoutError} this many ms after it was created. */
  timeout?: number
  /** At most this many of the child's tasks run at once. */
  limit?: number
  /**
   * Whether the child's first failure cancels its other tasks (and, through its parent, the parent's).
   * @default true
   */
  failFast?: boolean
  /** A name for errors and logs; also the name of the child's task in the parent. */
  name?: string
}
