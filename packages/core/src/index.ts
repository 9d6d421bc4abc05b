/**
 * taskscope: structured concurrency for Node.js web servers. Task groups cancelled as a whole,
 * background tasks that drain on shutdown, a worker-thread pool, races, events and lazy values,
 * and the framework-agnostic HTTP runtime behind the Fastify, Express and Koa adapters.
 *
 * Adapter authors: the shared kit is `@taskscope/core/adapter`.
 *
 * @module
 */

// Errors: one table of codes; match on `error.code`.

export type { CodedError, ErrorCode } from './errors.js'
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

// Task groups and their tasks.

export { createTaskGroup } from './primitives/create-task-group.js'
export { currentSignal, shield } from './primitives/current-signal.js'
export { currentTaskGroup } from './primitives/current-task-group.js'
export type { TaskOptions, TaskStatus, TaskWork } from './primitives/task.js'
export { Task } from './primitives/task.js'
export { TaskGroup } from './primitives/task-group.js'
export type { ChildTaskGroupOptions, TaskGroupOptions } from './primitives/task-group-options.js'
export type { StartWork } from './primitives/task-group-start.js'

// Races, events and lazy values.

export type { WaitOptions } from './primitives/async-event.js'
export { AsyncEvent } from './primitives/async-event.js'
export type { AsyncLazyOptions, AsyncLazyState, LazyGetOptions } from './primitives/async-lazy.js'
export { AsyncLazy } from './primitives/async-lazy.js'
export type { RaceEntry, RaceOptions } from './primitives/race.js'
export { firstSuccessful, runUntilFirstComplete } from './primitives/race.js'

// Background tasks, and tasks defined by name for a distributed registry.

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
export type { TaskAddOptions, TaskDefinition, TaskFunction } from './primitives/define-task.js'
export { defineTask } from './primitives/define-task.js'
export type { Register, RegisteredBackgroundTasks } from './primitives/register.js'

// The threadpool.

export { getThreadpool, runInThreadpool } from './threadpool/shared-threadpool.js'
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

// The HTTP runtime.

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
export { createRuntime } from './runtime/runtime.js'
export type { DrainableServer } from './runtime/server-drain/server-drain.js'
export type { UnfinishedWork } from './runtime/shutdown-report.js'
