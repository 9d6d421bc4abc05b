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
// HTTP runtime (issue 4)
export { createRuntime } from './runtime.js'
export type {
  RequestGroupOptions,
  Runtime,
  RuntimeCloseOptions,
  RuntimeCloseSummary,
  RuntimeOptions,
  RuntimeStats,
} from './runtime.js'
export { watchResponse } from './response-lifecycle.js'
export type { HttpRequest, HttpResponse, ResponseLifecycleHandlers } from './response-lifecycle.js'
export { answerCancellation, cancellationStatus, shuttingDownAnswer } from './escaped-cancellation.js'
export type { CancellationAnswer, EscapedCancellationContext } from './escaped-cancellation.js'
export { requestAccessors, withRuntimeHandle } from './runtime-handle.js'
export type { RequestAccessorsOptions, RuntimeHandle } from './runtime-handle.js'
export type { DrainableServer } from './server-drain.js'
export { asLogger } from './logger.js'
export type { LogMethod, RuntimeLogger } from './logger.js'
export { getThreadpool, runInThreadpool } from './shared-threadpool.js'
export { Threadpool } from './threadpool.js'
export type {
  DurationStats,
  ThreadpoolCloseOptions,
  ThreadpoolOptions,
  ThreadpoolRunOptions,
  ThreadpoolSettings,
  ThreadpoolStats,
} from './threadpool.js'
export { workerTask } from './worker-task.js'
export type { PoolFunction, WorkerTask } from './worker-task.js'
