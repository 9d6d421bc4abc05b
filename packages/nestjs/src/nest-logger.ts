// The runtime's logger on top of Nest's: taskscope logs in pino's form (fields, message), Nest's
// LoggerService takes a message (and, for errors, a stack).
import { inspect } from 'node:util'
import type { LoggerService } from '@nestjs/common'
import type { RuntimeLogger } from '@taskscope/core'

/** The message, the error's message and the other fields, on one line. Never throws: fields may be anything. */
function line(fields: object, message: string | undefined): string {
  let text = message ?? ''
  try {
    const { err, ...rest } = fields as { err?: unknown }
    if (err !== undefined) text += `: ${err instanceof Error ? err.message : inspect(err, { depth: 1 })}`
    if (Reflect.ownKeys(rest).length > 0) text += ` ${inspect(rest, { depth: 3, breakLength: Infinity })}`
  } catch (error) {
    text += ` (fields not shown: ${String((error as Error | undefined)?.message ?? error)})`
  }
  return text
}

function stackOf(fields: object): string | undefined {
  try {
    const { err } = fields as { err?: unknown }
    return err instanceof Error && typeof err.stack === 'string' ? err.stack : undefined
  } catch {
    return undefined
  }
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
      const stack = stackOf(fields)
      if (stack === undefined) logger.error(line(fields, message))
      else logger.error(line(fields, message), stack)
    },
  }
}
