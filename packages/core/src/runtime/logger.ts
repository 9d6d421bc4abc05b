// The logger contract of the HTTP runtime: a pino-compatible subset, so `fastify.log`,
// `request.log`, pino, pino-http's `req.log` and `console` all fit.
import { invalidType } from '../internal/validation.js'

/** A log method in pino's form: an object of fields first, then the message. */
export type LogMethod = (fields: object, message?: string) => void

/**
 * What the runtime logs through: pino-compatible (`fastify.log`, `request.log`, a pino logger,
 * pino-http's `req.log`; `console` works too). `debug` and `child` are optional.
 *
 * Levels used: `debug`/`info` for client disconnects and escaped cancellations, `warn` for tasks
 * still running when their response completed and for work cancelled by shutdown, `error` for
 * failures nobody observed (a request group's or a background task's).
 *
 * @example
 * ```ts
 * import pino from 'pino'
 * const runtime = createRuntime({ logger: pino() })
 * ```
 */
export interface RuntimeLogger {
  debug?: LogMethod
  info: LogMethod
  warn: LogMethod
  error: LogMethod
  child?: (bindings: object) => RuntimeLogger
}

/** The levels the runtime writes at. */
export type LogLevel = 'debug' | 'info' | 'warn' | 'error'

/**
 * The default logger of {@link createRuntime} when none is given: silent for `debug` and `info`,
 * `console.warn`/`console.error` for warnings and errors (the runtime must never hide a failure).
 */
export const defaultLogger: RuntimeLogger = {
  debug() {},
  info() {},
  warn(fields, message) {
    console.warn(`taskscope: ${message ?? ''}`, fields)
  },
  error(fields, message) {
    console.error(`taskscope: ${message ?? ''}`, fields)
  },
}

/** `value` when it looks like a {@link RuntimeLogger} (say pino-http's `req.log`), else undefined. */
export function asLogger(value: unknown): RuntimeLogger | undefined {
  const logger = value as Partial<Record<string, unknown>> | null | undefined
  return typeof logger?.info === 'function' && typeof logger.warn === 'function' && typeof logger.error === 'function'
    ? (value as RuntimeLogger)
    : undefined
}

/** Checks that `value` looks like a {@link RuntimeLogger}; returns it. */
export function validateLogger(value: unknown, what: string): RuntimeLogger | undefined {
  if (value === undefined) return undefined
  const logger = value as Partial<Record<string, unknown>> | null
  const ok =
    (typeof value === 'object' || typeof value === 'function') &&
    logger !== null &&
    typeof logger.info === 'function' &&
    typeof logger.warn === 'function' &&
    typeof logger.error === 'function' &&
    (logger.debug === undefined || typeof logger.debug === 'function') &&
    (logger.child === undefined || typeof logger.child === 'function')
  if (!ok) throw invalidType(what, 'a logger with info, warn and error methods (pino-compatible)', value)
  return value as RuntimeLogger
}

/**
 * Writes one entry. Never throws: a logger that fails must not break request handling, so its
 * error goes to `console.error` along with what was being logged.
 */
export function log(logger: RuntimeLogger, level: LogLevel, fields: object, message: string): void {
  try {
    const method = logger[level]
    if (method !== undefined) method.call(logger, fields, message)
  } catch (loggerError) {
    console.error(`taskscope: the logger threw while logging "${message}"`, loggerError, fields)
  }
}

/**
 * @internal Reports a failure nobody else will: to `onError` when given (an adapter's sink), else
 * to `logger` at error. A throwing `onError` loses neither error.
 */
export function reportFailure(
  error: unknown,
  logger: RuntimeLogger,
  onError: ((error: unknown) => void) | undefined,
  fields: object,
  message: string,
): void {
  if (onError === undefined) return log(logger, 'error', { err: error, ...fields }, message)
  try {
    onError(error)
  } catch (hookError) {
    log(logger, 'error', { err: new AggregateError([error, hookError], 'The onError hook threw'), ...fields }, message)
  }
}
