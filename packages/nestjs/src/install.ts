// Installs taskscope's own adapter on the app under Nest: `concurrency()` from @taskscope/express
// on an Express app, the plugin from @taskscope/fastify on a Fastify instance. The request path
// is theirs; this file only finds the platform and wires them in, while Nest creates the module's
// providers (before `app.init()` registers body parsers, middleware and routes).

import type { HttpAdapterHost } from '@nestjs/core'
import type { Runtime } from '@taskscope/core'
import { codedError, errorCodes } from '@taskscope/core/adapter'
import type { TaskscopeModuleOptions } from './options.js'

/** What the module keeps of the installation. */
export interface Installation {
  runtime: Runtime
  /** Ties the HTTP server to the runtime's shutdown, once Nest created it (Express). */
  attachServer(): void
}

type ExpressLike = { use(handler: unknown): unknown }
type FastifyLike = { register(plugin: unknown, options: unknown): PromiseLike<unknown>; concurrency?: Runtime }

function unsupported(message: string, cause?: unknown): Error {
  return codedError(Error, errorCodes.unsupportedPlatform, message, cause === undefined ? undefined : { cause })
}

async function load<T>(name: string, platform: string): Promise<T> {
  try {
    return (await import(name)) as T
  } catch (error) {
    const missing = (error as { code?: unknown }).code === 'ERR_MODULE_NOT_FOUND' && String((error as Error).message).includes(name)
    if (!missing) throw error
    throw unsupported(`TaskscopeModule needs ${name} on ${platform}: npm install ${name}`, error)
  }
}

/**
 * Installs the adapter matching the app's platform, with `options` (already resolved, the
 * logger filled in). Throws `ERR_TASKSCOPE_UNSUPPORTED_PLATFORM` outside an HTTP application,
 * on another platform, or when the adapter package is missing; the adapters' own TypeError or
 * RangeError for invalid options.
 */
export async function install(host: HttpAdapterHost | undefined, options: TaskscopeModuleOptions): Promise<Installation> {
  const adapter = host?.httpAdapter
  if (adapter === undefined || adapter === null) {
    throw unsupported('TaskscopeModule needs an HTTP application (NestFactory.create), not an application context or a microservice')
  }
  const platform = typeof adapter.getType === 'function' ? adapter.getType() : undefined
  if (platform === 'express') {
    const { concurrency } = await load<typeof import('@taskscope/express')>('@taskscope/express', '@nestjs/platform-express')
    const middleware = concurrency(options)
    // First in the app's stack: before the body parsers and routes that `app.init()` adds.
    ;(adapter.getInstance() as ExpressLike).use(middleware)
    return {
      runtime: middleware.runtime,
      attachServer() {
        const server: unknown = adapter.getHttpServer()
        if (server !== undefined && server !== null) middleware.attach(server as Parameters<typeof middleware.attach>[0])
      },
    }
  }
  if (platform === 'fastify') {
    const { concurrencyPlugin } = await load<typeof import('@taskscope/fastify')>('@taskscope/fastify', '@nestjs/platform-fastify')
    const fastify = adapter.getInstance() as FastifyLike
    // Before Nest adds its routes, so that the plugin's hooks run for every route; the plugin ties
    // fastify.server to the shutdown itself, and `fastify.close()` (Nest's dispose) closes it.
    await fastify.register(concurrencyPlugin, options)
    return { runtime: fastify.concurrency!, attachServer() {} }
  }
  throw unsupported(
    `TaskscopeModule supports @nestjs/platform-express and @nestjs/platform-fastify, not the "${String(platform)}" platform`,
  )
}
