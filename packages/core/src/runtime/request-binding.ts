// How an adapter ties an app's runtime to each request of its framework (`req`, `ctx`,
// `request`): one mount per request, the lazy getters, per-route group options. The state lives on
// the framework object under `Symbol.for` keys, so that two copies of an adapter agree on it.

import { type CodedError, codedError, errorCodes } from '../errors.js'
import type { Work } from '../internal/run-work.js'
import { kCurrentGroup } from '../internal/symbols.js'
import type { BackgroundTask } from '../primitives/background-task.js'
import type { BackgroundTasks } from '../primitives/background-tasks.js'
import { runInScope } from '../primitives/current-task-group.js'
import type { TaskGroup } from '../primitives/task-group.js'
import type { Threadpool } from '../threadpool/threadpool.js'
import { type AfterContext, type AfterWork, scheduleAfter, scheduleWaitUntil } from './after-response.js'
import { asLogger } from './logger.js'
import type { HttpRequest, HttpResponse } from './response-lifecycle.js'
import type { RouteGroupOptions } from './route-options.js'
import type { RequestGroupOptions, Runtime } from './runtime.js'

/** How {@link requestBinding} reaches a framework's request object. */
export interface RequestBindingOptions<T extends object> {
  /** The object's name in error messages: `'req'`, `'ctx'`, `'request'`. */
  name: string
  /** Names the keys (`Symbol.for('taskscope.<namespace>.runtime')`…): one per adapter. */
  namespace: string
  /** The adapter in error messages: `'concurrency()'`, `'@taskscope/fastify'`. */
  adapter: string
  /** How to install it, for error messages: `'app.use(concurrency()) before your routes'`. */
  install: string
  /** The Node request behind the framework object. */
  request(this: void, target: T): HttpRequest
  /**
   * The Node response that goes with it, when the framework object links to it (Express's
   * `req.res`, Koa's `ctx.res`): then `mount` stores nothing more for it. Without it, `mount`
   * keeps the response it is given on the object.
   */
  response?(this: void, target: T): HttpResponse
  /** Options the adapter adds to each request group (its logger, its `onError`); read once, when the group is created. */
  groupOptions?(this: void, target: T): RequestGroupOptions
  /**
   * Receives each new group, with what `groupOptions` returned for it (Fastify ties its
   * `handlerTimeout` to it).
   */
  created?(this: void, group: TaskGroup, target: T, options: RequestGroupOptions | undefined): void
  /**
   * The route's pattern (`/orders/:id`), if the framework knows it: names `after` and `waitUntil` tasks.
   * @default the path
   */
  route?(this: void, target: T): string | undefined
}

/** What {@link requestBinding} returns: the per-request side of an adapter. */
export interface RequestBinding<T extends object> {
  /** The keys it stores state under on the framework object (Fastify declares them with `decorateRequest`). */
  readonly keys: readonly symbol[]
  /**
   * The `taskGroup` (created on first read), `threadpool` and `backgroundTasks` getters, the
   * `after` and `waitUntil` methods, and a symbol-keyed member `currentTaskGroup()` uses, to define
   * once on a prototype shared by every request: no closure per request. Using one before the
   * adapter mounted the request throws `ERR_TASKSCOPE_NOT_REGISTERED`.
   */
  readonly accessors: PropertyDescriptorMap
  /**
   * Ties `runtime` to the request: true when it did; false when this same runtime did already (the
   * same middleware mounted twice, on the app and a router: nothing more to do). One runtime per
   * request: throws `ERR_TASKSCOPE_ALREADY_REGISTERED` when a different runtime mounted it first.
   */
  mount(target: T, runtime: Runtime, res: HttpResponse): boolean
  /**
   * Calls `next()` (the rest of the request's handling) where `currentTaskGroup()` is the
   * request's group, created on first use. Call it once, after a `mount` that returned true.
   */
  run<R>(target: T, next: () => R): R
  /** The request's group, if it was created. */
  group(target: T): TaskGroup | undefined
  /**
   * Sets the options of the request's group (validate them first with `validateRouteOptions`).
   * Throws `ERR_TASKSCOPE_NOT_REGISTERED` before the mount and `ERR_TASKSCOPE_GROUP_CREATED` once
   * the group exists (its options can no longer change).
   */
  setRouteOptions(target: T, options: RouteGroupOptions): void
}

/**
 * The error for reading `expression` (say `req.taskGroup`) where `adapter` has not run: a route
 * outside its scope, or a middleware mounted before it. `install` says how to install it.
 *
 * @example
 * ```ts
 * throw notRegisteredError('req.taskGroup', 'concurrency()', 'app.use(concurrency()) before your routes')
 * ```
 */
export function notRegisteredError(expression: string, adapter: string, install: string): CodedError<Error> {
  const message = `${expression} is not available here: ${adapter} has not run for this request (install it first: ${install})`
  return codedError(Error, errorCodes.notRegistered, message)
}

/**
 * The error for a second, different `adapter` instance on one app (or on one request's path): an
 * app has one runtime, one pool, one shutdown.
 *
 * @example
 * ```ts
 * if (fastify.hasDecorator('concurrency')) throw alreadyRegisteredError('@taskscope/fastify', 'register it once, at the root')
 * ```
 */
export function alreadyRegisteredError(adapter: string, install: string): CodedError<Error> {
  const message = `${adapter} is already installed on this app with another runtime: one per app (${install})`
  return codedError(Error, errorCodes.alreadyRegistered, message)
}

type Scoped = Record<symbol, unknown>

/**
 * The per-request side of an adapter: the lazy getters, the mount (one runtime per request) and
 * per-route options, in one place for every framework.
 *
 * @example
 * ```ts
 * const binding = requestBinding<Koa.Context>({ name: 'ctx', namespace: 'koa', adapter: 'concurrency()',
 *   install: 'app.use(concurrency())', request: (ctx) => ctx.req })
 * Object.defineProperties(app.context, binding.accessors)
 * app.use(async (ctx, next) => { binding.mount(ctx, runtime, ctx.res); await next() })
 * ```
 */
export function requestBinding<T extends object>(options: RequestBindingOptions<T>): RequestBinding<T> {
  const { name, namespace, adapter, install, request, groupOptions, created, route } = options
  const response = options.response ?? ((target: T) => (target as Scoped)[kResponse] as HttpResponse)
  const kRuntime = Symbol.for(`taskscope.${namespace}.runtime`)
  const kResponse = Symbol.for(`taskscope.${namespace}.response`)
  const kGroup = Symbol.for(`taskscope.${namespace}.taskGroup`)
  const kOptions = Symbol.for(`taskscope.${namespace}.routeOptions`)
  const runtimeOf = (target: Scoped, property: string): Runtime => {
    const runtime = target[kRuntime] as Runtime | null | undefined
    if (runtime != null) return runtime
    throw notRegisteredError(`${name}.${property}`, adapter, install)
  }
  const createGroup = (target: T): TaskGroup => {
    const scoped = target as Scoped
    const runtime = runtimeOf(scoped, 'taskGroup')
    const route = scoped[kOptions] as RouteGroupOptions | null | undefined
    const extra = groupOptions?.(target)
    // One options object per group: a copy only when a route's options and the adapter's meet.
    const options = route == null ? extra : extra === undefined ? route : { ...route, ...extra }
    const group = runtime.requestGroup(request(target), response(target), options)
    scoped[kGroup] = group
    created?.(group, target, extra)
    return group
  }
  const afterContext = (target: T): AfterContext => {
    const req = request(target)
    const { logger, onError } = groupOptions?.(target) ?? {}
    const path = route?.(target) ?? req.url?.split('?', 1)[0] ?? '/'
    return { name: `${req.method} ${path}`, logger: asLogger(logger) ?? runtimeOf(target as Scoped, 'after').logger, onError }
  }
  const accessors: PropertyDescriptorMap = {
    taskGroup: {
      configurable: true,
      get(this: T): TaskGroup {
        return ((this as Scoped)[kGroup] as TaskGroup | null | undefined) ?? createGroup(this)
      },
    },
    threadpool: {
      configurable: true,
      get(this: Scoped): Threadpool {
        return runtimeOf(this, 'threadpool').threadpool
      },
    },
    backgroundTasks: {
      configurable: true,
      get(this: Scoped): BackgroundTasks {
        return runtimeOf(this, 'backgroundTasks').backgroundTasks
      },
    },
    after: {
      configurable: true,
      writable: true,
      value: function after<R>(this: T, work: AfterWork<R>): BackgroundTask<Awaited<R>> {
        const runtime = runtimeOf(this as Scoped, 'after')
        return scheduleAfter(runtime, request(this), response(this), work, afterContext(this))
      },
    },
    waitUntil: {
      configurable: true,
      writable: true,
      value: function waitUntil<R>(this: T, work: Work<R>): BackgroundTask<Awaited<R>> {
        return scheduleWaitUntil(runtimeOf(this as Scoped, 'waitUntil'), work, afterContext(this))
      },
    },
    // What `currentTaskGroup()` asks the request object: its group, created on first use or peeked at.
    [kCurrentGroup]: {
      configurable: true,
      value(this: T, create: boolean): TaskGroup | undefined {
        const group = (this as Scoped)[kGroup] as TaskGroup | null | undefined
        return group ?? (create ? createGroup(this) : undefined)
      },
    },
  }
  return {
    keys: [kRuntime, kResponse, kGroup, kOptions],
    accessors,
    mount(target, runtime, res) {
      const scoped = target as Scoped
      const mounted = scoped[kRuntime] as Runtime | null | undefined
      if (mounted === runtime) return false
      if (mounted != null) throw alreadyRegisteredError(adapter, `${install}; the same one may run again`)
      scoped[kRuntime] = runtime
      if (options.response === undefined) scoped[kResponse] = res
      return true
    },
    run: (target, next) => runInScope(target as never, next),
    group: (target) => ((target as Scoped)[kGroup] as TaskGroup | null | undefined) ?? undefined,
    setRouteOptions(target, routeOptions) {
      const scoped = target as Scoped
      runtimeOf(scoped, 'taskGroup')
      if (scoped[kGroup] != null) {
        const message = `The route options came after ${name}.taskGroup was created: put the route middleware before anything that uses it`
        throw codedError(Error, errorCodes.groupCreated, message)
      }
      scoped[kOptions] = routeOptions
    },
  }
}
