// What TaskscopeModule is configured with, and the tokens its providers are registered under.

import type { InjectionToken, ModuleMetadata, OptionalFactoryDependency } from '@nestjs/common'
import type { AfterResponseMethods, RuntimeOptions, TaskGroup } from '@taskscope/core'

/**
 * Options of `TaskscopeModule.forRoot()`: the adapters' options (`shutdownTimeout`, `threadpool`,
 * `backgroundTasks`, `logger`). `logger` defaults to Nest's `Logger` (context `Taskscope`), so
 * the shutdown summary, disconnects and unobserved failures go where the app's logs go.
 */
export interface TaskscopeModuleOptions extends RuntimeOptions {}

/**
 * Options of `TaskscopeModule.forRootAsync()`: a factory for the {@link TaskscopeModuleOptions},
 * as with every configurable Nest module.
 *
 * @example
 * ```ts
 * TaskscopeModule.forRootAsync({
 *   imports: [ConfigModule],
 *   inject: [ConfigService],
 *   useFactory: (config: ConfigService) => ({ shutdownTimeout: config.get('SHUTDOWN_MS') }),
 * })
 * ```
 */
export interface TaskscopeModuleAsyncOptions extends Pick<ModuleMetadata, 'imports'> {
  /** Returns the options (or a promise of them); receives the providers named in `inject`. */
  useFactory: (...args: any[]) => TaskscopeModuleOptions | Promise<TaskscopeModuleOptions>
  /** The providers passed to `useFactory`, in order. */
  inject?: Array<InjectionToken | OptionalFactoryDependency>
}

/**
 * What `@taskscope/nestjs` puts on each request, on Express (`@Req() req`) and Fastify
 * (`@Req() request`) alike: the request's task group, and work after the response.
 *
 * @example
 * ```ts
 * @Get(':id') async show(@Param('id') id: string, @Req() req: TaskscopeRequest) {
 *   const user = req.taskGroup.createTask((signal) => this.users.find(id, signal))
 *   return { user: await user }
 * }
 * ```
 */
export interface TaskscopeRequest extends AfterResponseMethods {
  /**
   * The request's TaskGroup, created on first use. Its signal aborts with
   * `ClientDisconnectedError` when the client goes away before the response completes; tasks
   * still running when the response completes are cancelled with `RequestFinishedError`.
   */
  readonly taskGroup: TaskGroup
}

/** @internal The token of the resolved module options. */
export const kModuleOptions = Symbol('taskscope.nestjs.options')
