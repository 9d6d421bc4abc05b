// Type tests, checked by `tsc -p tsconfig.json` at the root.
import type { DynamicModule, ExceptionFilter } from '@nestjs/common'
import type {
  BackgroundTask,
  BackgroundTasks,
  Runtime,
  RuntimeCloseSummary,
  RuntimeInspection,
  RuntimeStats,
  Task,
  TaskGroup,
  Threadpool,
} from '@taskscope/core'
import {
  Cancellation,
  nestLogger,
  type TaskscopeExceptionFilter,
  TaskscopeModule,
  type TaskscopeModuleOptions,
  type TaskscopeRequest,
  type TaskscopeRuntime,
} from '@taskscope/nestjs'
import { expectTypeOf } from 'vitest'

// forRoot takes the adapters' options; forRootAsync a factory of them.
expectTypeOf(TaskscopeModule.forRoot({ shutdownTimeout: 5_000, threadpool: { maxThreads: 2 } })).toEqualTypeOf<DynamicModule>()
expectTypeOf(TaskscopeModule.forRoot()).toEqualTypeOf<DynamicModule>()
// @ts-expect-error shutdownTimeout is a number of milliseconds
TaskscopeModule.forRoot({ shutdownTimeout: '5s' })
TaskscopeModule.forRootAsync({ inject: ['CONFIG'], useFactory: (config: { ms: number }) => ({ shutdownTimeout: config.ms }) })
TaskscopeModule.forRootAsync({ useFactory: async (): Promise<TaskscopeModuleOptions> => ({}) })
// @ts-expect-error useFactory is required
TaskscopeModule.forRootAsync({ inject: [] })

// The runtime handle, injected by its class.
declare const taskscope: TaskscopeRuntime
expectTypeOf(taskscope.runtime).toEqualTypeOf<Runtime>()
expectTypeOf(taskscope.stats()).toEqualTypeOf<RuntimeStats>()
expectTypeOf(taskscope.inspect()).toEqualTypeOf<RuntimeInspection>()
expectTypeOf(taskscope.close()).toEqualTypeOf<Promise<RuntimeCloseSummary>>()
expectTypeOf(taskscope.threadpool).toEqualTypeOf<Threadpool>()
expectTypeOf(taskscope.backgroundTasks).toEqualTypeOf<BackgroundTasks>()
expectTypeOf(taskscope.draining).toEqualTypeOf<boolean>()

// What a controller sees on the request, on either platform.
declare const req: TaskscopeRequest
expectTypeOf(req.taskGroup).toEqualTypeOf<TaskGroup>()
expectTypeOf(req.taskGroup.createTask(async () => 1)).toEqualTypeOf<Task<number>>()
expectTypeOf(req.after(async () => 'x')).toEqualTypeOf<BackgroundTask<string>>()
// @ts-expect-error the group is the request's: not replaceable
req.taskGroup = {} as TaskGroup

// The filter is an ExceptionFilter; Cancellation is a class for @Catch().
expectTypeOf<TaskscopeExceptionFilter>().toExtend<ExceptionFilter>()
expectTypeOf(new Cancellation()).toBeObject()
expectTypeOf(nestLogger({ log() {}, error() {}, warn() {} }).info).toBeFunction()
