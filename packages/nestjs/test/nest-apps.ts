// Nest apps on either platform for the tests: a logger that records what Nest logs, and a
// listening server on the loopback interface.
import 'reflect-metadata'
import type { INestApplication, LoggerService } from '@nestjs/common'
import { NestFactory } from '@nestjs/core'
import { ExpressAdapter } from '@nestjs/platform-express'
import { FastifyAdapter } from '@nestjs/platform-fastify'

export type Platform = 'express' | 'fastify'
export const platforms: Platform[] = ['express', 'fastify']

export interface NestLine {
  level: 'log' | 'error' | 'warn' | 'debug' | 'verbose' | 'fatal'
  message: string
  context: string | undefined
  stack: string | undefined
}

/** A LoggerService that records every line; `next(match)` resolves with the next line that matches. */
export function recordingLogger() {
  const lines: NestLine[] = []
  const waiters: Array<{ match: (line: NestLine) => boolean; resolve: (line: NestLine) => void }> = []
  const push = (level: NestLine['level'], message: unknown, rest: unknown[]): void => {
    const strings = rest.filter((part): part is string => typeof part === 'string')
    const context = strings.length > 0 ? strings[strings.length - 1] : undefined
    const stack = level === 'error' && strings.length > 1 ? strings[0] : undefined
    const line = { level, message: message instanceof Error ? String(message.stack) : String(message), context, stack }
    lines.push(line)
    for (const waiter of [...waiters]) {
      if (!waiter.match(line)) continue
      waiters.splice(waiters.indexOf(waiter), 1)
      waiter.resolve(line)
    }
  }
  const logger: LoggerService = {
    log: (message, ...rest) => push('log', message, rest),
    error: (message, ...rest) => push('error', message, rest),
    warn: (message, ...rest) => push('warn', message, rest),
    debug: (message, ...rest) => push('debug', message, rest),
    verbose: (message, ...rest) => push('verbose', message, rest),
    fatal: (message, ...rest) => push('fatal', message, rest),
  }
  const next = (match: (line: NestLine) => boolean): Promise<NestLine> => new Promise((resolve) => waiters.push({ match, resolve }))
  return { logger, lines, next, errors: () => lines.filter((line) => line.level === 'error' || line.level === 'fatal') }
}

/** Creates the app on `platform` (not listening yet). */
export async function createApp(platform: Platform, module: unknown, logger: LoggerService): Promise<INestApplication> {
  const adapter = platform === 'express' ? new ExpressAdapter() : new FastifyAdapter()
  return NestFactory.create(module as never, adapter, { logger, abortOnError: false })
}

/** Starts `app` on a free port of 127.0.0.1; resolves with the port. */
export async function listen(app: INestApplication): Promise<number> {
  await app.listen(0, '127.0.0.1')
  const address = app.getHttpServer().address() as { port: number }
  return address.port
}
