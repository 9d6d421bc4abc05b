// The runtime's logger on top of Nest's: taskscope logs in pino's form (fields, message), Nest's
// LoggerService takes a message (and, for errors, a stack).
import { inspect } from 'node:util'
import type { LoggerService } from '@nestjs/common'
import type { RuntimeLogger } from '@taskscope/core'

function line(fields: object, message: string | undefined): string {
  const { err, ...rest } = fields as { err?: unknown }
  let text = message ?? ''
  if (err !== undefined) text += `: ${err instanceof Error ? err.message : inspect(err, { depth: 1 })}`
  if (Reflect.ownKeys(rest).length > 0) text += ` ${inspect(rest, { depth: 3, breakLength: Infinity })}`
  return text
}

/**
 * A taskscope logger writing through a Nest `LoggerService` (by default `new Logger('Taskscope')`,
 * which follows the app's logger, `app.useLogger()` included): `info` → `log`, errors with their
 * stack.
 *
 * @example
 * ```ts
 * TaskscopeModule.forRoot({ logger: nestLogger(new Logger('Jobs')) })
 * ```
 */
export function nestLogger(logger: LoggerService): RuntimeLogger {
  return {
    debug: (fields, message) => logger.debug?.(line(fields, message)),
    info: (fields, message) => logger.log(line(fields, message)),
    warn: (fields, message) => logger.warn(line(fields, message)),
    error(fields, message) {
      const { err } = fields as { err?: unknown }
      const stack = err instanceof Error ? err.stack : undefined
      if (stack === undefined) logger.error(line(fields, message))
      else logger.error(line(fields, message), stack)
    },
  }
}
