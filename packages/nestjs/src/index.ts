/**
 * taskscope for NestJS, on Express or Fastify: `TaskscopeModule.forRoot(options)` installs
 * `@taskscope/express` or `@taskscope/fastify` on the app underneath (`req.taskGroup` in
 * controllers, `currentTaskGroup()` in services), provides the runtime, the background tasks and
 * the pool by class, answers escaped cancellations quietly, and runs the bounded shutdown inside
 * Nest's lifecycle.
 *
 * @module
 */

export { Cancellation, TaskscopeExceptionFilter } from './cancellation-filter.js'
export { nestLogger } from './nest-logger.js'
export type { TaskscopeModuleAsyncOptions, TaskscopeModuleOptions, TaskscopeRequest } from './options.js'
export { TaskscopeModule } from './taskscope-module.js'
export { TaskscopeRuntime } from './taskscope-runtime.js'
