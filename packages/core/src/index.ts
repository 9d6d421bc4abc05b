/**
 * taskscope: structured concurrency for Node.js web servers. Task groups cancelled as a whole,
 * background tasks that drain on shutdown, a worker-thread pool, races, events and lazy values,
 * and the framework-agnostic HTTP runtime behind the Fastify, Express and Koa adapters.
 *
 * Adapter authors: the shared kit is `@taskscope/core/adapter`.
 *
 * @module
 */

export type { CodedError, ErrorCode } from './errors.js'
// Errors
export {
  CancelledError,
  ClientDisconnectedError,
  ClosedError,
  errorCodes,
  isCancellation,
  QueueFullError,
  RequestFinishedError,
  ShutdownError,
  TaskGroupError,
  TimeoutError,
  WorkerCrashedError,
} from './errors.js'
export type { WaitOptions } from './primitives/async-event.js'
export { AsyncEvent } from './primitives/async-event.js'
export type { AsyncLazyOptions, AsyncLazyState, LazyGetOptions } from './primitives/async-lazy.js'
export { AsyncLazy } from './primitives/async-lazy.js'
export type { BackgroundHandle, BackgroundRegistry, BackgroundSnapshot, BackgroundTaskSummary } from './primitives/background-registry.js'
export type { BackgroundTaskOptions, BackgroundTaskStatus } from './primitives/background-task.js'
export { BackgroundTask, createBackgroundTask } from './primitives/background-task.js'
export type {
  BackgroundShutdownOptions,
  BackgroundShutdownReport,
  BackgroundTaskInfo,
  BackgroundTasksOptions,
} from './primitives/background-tasks.js'
export { BackgroundTasks } from './primitives/background-tasks.js'
export { createTaskGroup } from './primitives/create-task-group.js'
export { currentSignal, shield } from './primitives/current-signal.js'
export { currentTaskGroup } from './primitives/current-task-group.js'
export type { TaskAddOptions, TaskDefinition, TaskFunction } from './primitives/define-task.js'
export { defineTask } from './primitives/define-task.js'
export type { StartWork } from './primitives/group-start.js'
export type { RaceEntry, RaceOptions } from './primitives/race.js'
export { firstSuccessful, runUntilFirstComplete } from './primitives/race.js'
export type { Register, RegisteredBackgroundTasks } from './primitives/register.js'
export type { TaskOptions, TaskStatus, TaskWork } from './primitives/task.js'
// Primitives
export { Task } from './primitives/task.js'
export { TaskGroup } from './primitives/task-group.js'
export type { ChildTaskGroupOptions, TaskGroupOptions } from './primitives/task-group-options.js'
export type { AfterResponseMethods, AfterWork } from './runtime/after-response.js'
export type { DispatchInterceptor, InterceptedDispatch } from './runtime/cancellation-interceptor.js'
export { cancellationInterceptor } from './runtime/cancellation-interceptor.js'
export { cancellationStatus } from './runtime/escaped-cancellation.js'
export type { LogMethod, RuntimeLogger } from './runtime/logger.js'
export type { EventLoopStats, InspectedRequest, RuntimeInspection } from './runtime/observe.js'
export type { HttpRequest, HttpResponse } from './runtime/response-lifecycle.js'
export type {
  RequestGroupOptions,
  Runtime,
  RuntimeCloseOptions,
  RuntimeCloseSummary,
  RuntimeOptions,
  RuntimeStats,
} from './runtime/runtime.js'
// HTTP runtime
export { createRuntime } from './runtime/runtime.js'
export type { DrainableServer } from './runtime/server-drain.js'
export type { UnfinishedWork } from './runtime/shutdown-report.js'
export { getThreadpool, runInThreadpool } from './threadpool/shared-threadpool.js'
// Threadpool
export { Threadpool } from './threadpool/threadpool.js'
export type {
  DurationStats,
  ThreadpoolCloseOptions,
  ThreadpoolOptions,
  ThreadpoolRunOptions,
  ThreadpoolSettings,
  ThreadpoolStats,
  ThreadpoolTaskContext,
  ThreadpoolThreadStats,
} from './threadpool/types.js'
export type { PoolFunction, WorkerTask } from './threadpool/worker-task.js'
export { workerTask } from './threadpool/worker-task.js'
