export {
  CancelledError,
  ClientDisconnectedError,
  ClosedError,
  isCancellation,
  QueueFullError,
  RequestFinishedError,
  ShutdownError,
  TaskGroupError,
  TimeoutError,
  WorkerCrashedError,
} from './errors.js'
export { Task } from './task.js'
export type { TaskOptions, TaskStatus, TaskWork } from './task.js'
export { createTaskGroup, TaskGroup } from './task-group.js'
export type { TaskGroupOptions } from './task-group.js'
export { BackgroundTask, createBackgroundTask } from './background-task.js'
export type { BackgroundTaskOptions, BackgroundTaskStatus } from './background-task.js'
export { BackgroundTasks } from './background-tasks.js'
export type {
  BackgroundShutdownOptions,
  BackgroundShutdownReport,
  BackgroundTaskInfo,
  BackgroundTasksOptions,
} from './background-tasks.js'
export { firstSuccessful, runUntilFirstComplete } from './race.js'
export type { RaceEntry, RaceOptions } from './race.js'
export { AsyncEvent } from './async-event.js'
export type { WaitOptions } from './async-event.js'
export { AsyncLazy } from './async-lazy.js'
export type { AsyncLazyOptions, AsyncLazyState, LazyGetOptions } from './async-lazy.js'
