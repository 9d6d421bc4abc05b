// The Nest module: providers for the runtime, its registry and pool, the global exception filter,
// and the shutdown inside Nest's lifecycle. Written without decorators (Nest's decorators are
// called as functions), so that it builds the same with or without `experimentalDecorators`.

import { type DynamicModule, Global, Inject, Logger, Module, type Provider } from '@nestjs/common'
import { APP_FILTER, HttpAdapterHost } from '@nestjs/core'
import { BackgroundTasks, Threadpool } from '@taskscope/core'
import { copyOptions, validateFunction } from '@taskscope/core/adapter'
import { TaskscopeExceptionFilter } from './cancellation-filter.js'
import { type Installation, install } from './install.js'
import { lazyThreadpool } from './lazy-threadpool.js'
import { nestLogger } from './nest-logger.js'
import { kModuleOptions, type TaskscopeModuleAsyncOptions, type TaskscopeModuleOptions } from './options.js'
import { kToken } from './symbols.js'
import { TaskscopeRuntime } from './taskscope-runtime.js'

const kInstallation = Symbol('taskscope.nestjs.installation')

async function installFor(host: HttpAdapterHost, options: TaskscopeModuleOptions | undefined): Promise<Installation> {
  const opts = copyOptions(options, 'The options of TaskscopeModule')
  const resolved = { ...opts, logger: opts.logger ?? nestLogger(new Logger('Taskscope')) }
  return install(host, resolved)
}

/** The constructor of a registry given as an instance of a class of its own (`BullmqBackgroundTasks`), to inject it by that class. */
function registryClass(options: TaskscopeModuleOptions | undefined): (abstract new (...args: never[]) => unknown) | undefined {
  const registry = options?.backgroundTasks
  if (typeof registry !== 'object' || registry === null) return undefined
  const Class = (registry as { constructor?: unknown }).constructor
  if (typeof Class !== 'function' || Class === Object || Class === BackgroundTasks) return undefined
  return Class as abstract new (
    ...args: never[]
  ) => unknown
}

function providers(optionsProvider: Provider, options: TaskscopeModuleOptions | undefined): Provider[] {
  const registry = registryClass(options)
  return [
    optionsProvider,
    { provide: kInstallation, useFactory: installFor, inject: [HttpAdapterHost, kModuleOptions] },
    { provide: TaskscopeRuntime, useFactory: (i: Installation) => new TaskscopeRuntime(kToken, i.runtime), inject: [kInstallation] },
    { provide: BackgroundTasks, useFactory: (t: TaskscopeRuntime) => t.backgroundTasks, inject: [TaskscopeRuntime] },
    ...(registry === undefined
      ? []
      : [{ provide: registry, useFactory: (t: TaskscopeRuntime) => t.backgroundTasks, inject: [TaskscopeRuntime] }]),
    { provide: Threadpool, useFactory: (t: TaskscopeRuntime) => lazyThreadpool(t.runtime), inject: [TaskscopeRuntime] },
    {
      provide: TaskscopeExceptionFilter,
      useFactory: (t: TaskscopeRuntime, host: HttpAdapterHost) => new TaskscopeExceptionFilter(t, host.httpAdapter),
      inject: [TaskscopeRuntime, HttpAdapterHost],
    },
    { provide: APP_FILTER, useExisting: TaskscopeExceptionFilter },
  ]
}

const exported = [TaskscopeRuntime, BackgroundTasks, Threadpool, TaskscopeExceptionFilter]

/**
 * taskscope for NestJS, on `@nestjs/platform-express` and `@nestjs/platform-fastify` alike:
 * import `TaskscopeModule.forRoot(options)` once, in the root module. It installs
 * `@taskscope/express` (or `@taskscope/fastify`) on the app underneath, so `req.taskGroup`
 * works in controllers and `currentTaskGroup()` in services; it provides {@link TaskscopeRuntime},
 * `BackgroundTasks` (or the registry configured) and `Threadpool` to every module, by class; it
 * answers escaped cancellations quietly (a global exception filter); and `app.close()` runs the
 * bounded shutdown (in-flight requests, background tasks, pool) in `beforeApplicationShutdown`.
 *
 * Creating the app fails with `ERR_TASKSCOPE_UNSUPPORTED_PLATFORM` outside an HTTP application,
 * on another platform, or without the adapter package; with a TypeError/RangeError naming the
 * option for invalid options.
 *
 * @example
 * ```ts
 * @Module({ imports: [TaskscopeModule.forRoot({ shutdownTimeout: 5_000 })], controllers: [DashboardController] })
 * export class AppModule {}
 *
 * const app = await NestFactory.create(AppModule)
 * app.enableShutdownHooks()
 * await app.listen(3000)
 * ```
 */
export class TaskscopeModule {
  readonly #installation: Installation

  /** @internal Made by Nest. */
  constructor(installation: Installation) {
    this.#installation = installation
  }

  /**
   * The module with `options` (the adapters' options; see {@link TaskscopeModuleOptions}),
   * global: its providers are injectable everywhere. Throws a TypeError (`ERR_INVALID_ARG_TYPE`)
   * when `options` is not an object.
   *
   * @example
   * ```ts
   * @Module({ imports: [TaskscopeModule.forRoot({ shutdownTimeout: 5_000, threadpool: { maxThreads: 4 } })] })
   * export class AppModule {}
   * ```
   */
  static forRoot(options?: TaskscopeModuleOptions): DynamicModule {
    copyOptions(options, 'The options of TaskscopeModule.forRoot()') // refuses anything but an object
    return {
      module: TaskscopeModule,
      global: true,
      providers: providers({ provide: kModuleOptions, useValue: options }, options),
      exports: [...exported, ...(registryClass(options) === undefined ? [] : [registryClass(options)!])],
    }
  }

  /**
   * The module with options from a factory (`useFactory`, `inject`, `imports`), global. A registry
   * of a class of its own (a `BullmqBackgroundTasks`) is injectable as `BackgroundTasks` here;
   * provide it yourself (and inject it into the factory) to inject it by its own class too. Throws
   * a TypeError (`ERR_INVALID_ARG_TYPE`) when `useFactory` is not a function.
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
  static forRootAsync(options: TaskscopeModuleAsyncOptions): DynamicModule {
    const { useFactory: factory, inject = [], imports = [] } = copyOptions(options, 'The options of TaskscopeModule.forRootAsync()')
    const useFactory = validateFunction<TaskscopeModuleAsyncOptions['useFactory']>(
      factory,
      'The "useFactory" option of TaskscopeModule.forRootAsync()',
    )
    return {
      module: TaskscopeModule,
      global: true,
      imports,
      providers: providers({ provide: kModuleOptions, useFactory, inject: [...inject] }, undefined),
      exports: exported,
    }
  }

  /** @internal Nest's `onModuleInit`: ties the HTTP server (created by now) to the runtime's shutdown. */
  onModuleInit(): void {
    this.#installation.attachServer()
  }

  /**
   * @internal Nest's `beforeApplicationShutdown` (`app.close()`): the bounded shutdown, before Nest disposes of the server. New
   * requests get 503, in-flight ones finish, background tasks drain up to `shutdownTimeout`,
   * leftovers are cancelled, the pool is closed, and the summary is logged.
   */
  async beforeApplicationShutdown(): Promise<void> {
    await this.#installation.runtime.close()
  }
}
Inject(kInstallation)(TaskscopeModule, undefined, 0)
Global()(TaskscopeModule)
Module({})(TaskscopeModule)
