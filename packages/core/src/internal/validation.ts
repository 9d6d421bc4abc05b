// Argument and option validation: every error names the option and shows the value received,
// and carries Node's own error codes so callers can match on `code`. The part every package needs
// is exported once, in the kit (`@taskscope/core/adapter`): the messages are the same in every
// package because one function writes each.
import { inspect } from 'node:util'
import { type CodedError, codedError, errorCodes } from '../errors.js'

/** A short, safe rendering of any value for an error message: `0 (number)`, `'x' (string)`. */
export function describe(value: unknown): string {
  if (value === null) return 'null'
  if (value === undefined) return 'undefined'
  if (typeof value === 'function') return `function ${value.name || '(anonymous)'}`
  const shown = inspect(value, { depth: 0, breakLength: Infinity, maxArrayLength: 3, maxStringLength: 40 })
  return typeof value === 'object' ? shown : `${shown} (${typeof value})`
}

/**
 * The TypeError (code `ERR_INVALID_ARG_TYPE`) for an argument or option of the wrong type: names
 * it, says what it must be, and shows the value received.
 *
 * @example
 * ```ts
 * throw invalidType('The "queue" option', 'a string', 42) // The "queue" option must be a string. Received 42 (number)
 * ```
 */
export function invalidType(what: string, expected: string, value: unknown): CodedError<TypeError> {
  return codedError(TypeError, errorCodes.invalidArgType, `${what} must be ${expected}. Received ${describe(value)}`)
}

/**
 * The TypeError (code `ERR_INVALID_ARG_VALUE`) for an argument or option of the right type but an
 * unusable value.
 *
 * @example
 * ```ts
 * throw invalidValue('The "id" option', 'a string without ":"', 'a:b')
 * ```
 */
export function invalidValue(what: string, expected: string, value: unknown): CodedError<TypeError> {
  return codedError(TypeError, errorCodes.invalidArgValue, `${what} must be ${expected}. Received ${describe(value)}`)
}

/**
 * The RangeError (code `ERR_OUT_OF_RANGE`) for a number outside its allowed range.
 *
 * @example
 * ```ts
 * throw outOfRange('The "jitter" option', 'a number from 0 to 1', 2)
 * ```
 */
export function outOfRange(what: string, expected: string, value: unknown): CodedError<RangeError> {
  return codedError(RangeError, errorCodes.outOfRange, `${what} must be ${expected}. Received ${describe(value)}`)
}

/** The TypeError of `new Task()` and the like: a class users get from a factory, never construct. */
export function illegalConstructor(name: string, factory: string): CodedError<TypeError> {
  return codedError(TypeError, errorCodes.illegalConstructor, `Illegal constructor: a ${name} is made by ${factory}`)
}

/**
 * Copies a caller's options bag (own enumerable properties only), so that the caller's object is
 * never read twice or modified; `{}` for undefined. Throws `invalidType` for anything that is not
 * a plain object (null, an array, a primitive).
 *
 * @example
 * ```ts
 * const opts = copyOptions(options, 'The shutdown options')
 * ```
 */
export function copyOptions<T extends object>(options: T | undefined, what: string): Partial<T> {
  if (options === undefined) return {}
  if (typeof options !== 'object' || options === null || Array.isArray(options)) {
    throw invalidType(what, 'an object', options)
  }
  return { ...options }
}

/** The largest delay `setTimeout` honours; beyond it Node fires after 1 ms. */
const maxDelay = 2 ** 31 - 1

/** A duration in milliseconds: a number from 0 to 2^31-1, or Infinity for "never" (returned as undefined). */
export function validateDuration(value: unknown, what: string): number | undefined {
  if (value === undefined) return undefined
  if (typeof value !== 'number' || Number.isNaN(value)) throw invalidType(what, 'a number of milliseconds', value)
  if (value === Infinity) return undefined
  if (value < 0 || value > maxDelay) throw outOfRange(what, `a number of milliseconds from 0 to ${maxDelay}`, value)
  return value
}

/**
 * A time limit in milliseconds: a number from 0 to 2^31-1 (what `setTimeout` honours), or
 * Infinity, kept, for "as long as it takes". Undefined when not given. Throws `invalidType` for a
 * value that is not a number (or NaN), `outOfRange` for one outside the range.
 *
 * @example
 * ```ts
 * const timeout = validateTimeLimit(opts.timeout, 'The "timeout" option') ?? 5000
 * if (timeout !== Infinity) setTimeout(expire, timeout)
 * ```
 */
export function validateTimeLimit(value: unknown, what: string): number | undefined {
  if (value === undefined || value === Infinity) return value
  if (typeof value !== 'number' || Number.isNaN(value)) throw invalidType(what, 'a number of milliseconds', value)
  if (!(value >= 0 && value <= maxDelay)) throw outOfRange(what, `a number of milliseconds from 0 to ${maxDelay}, or Infinity`, value)
  return value
}

/**
 * An integer from `min` (to `max`, when given), or Infinity when `allowInfinity`; undefined when
 * not given. Throws `invalidType` for a value that is not a number, `outOfRange` for one that is
 * not an integer in the range.
 *
 * @example
 * ```ts
 * const attempts = validateInteger(opts.attempts, 'The "attempts" option', 1) ?? 1
 * const concurrency = validateInteger(opts.concurrency, 'The "concurrency" option', 0, false, 2 ** 31 - 1)
 * ```
 */
export function validateInteger(value: unknown, what: string, min: number, allowInfinity = false, max?: number): number | undefined {
  if (value === undefined) return undefined
  if (typeof value !== 'number') throw invalidType(what, 'a number', value)
  if (value === Infinity && allowInfinity) return Infinity
  if (!Number.isInteger(value) || value < min || (max !== undefined && value > max)) {
    const range = max === undefined ? `>= ${min}` : `from ${min} to ${max}`
    throw outOfRange(what, `an integer ${range}${allowInfinity ? ' or Infinity' : ''}`, value)
  }
  return value
}

/** An AbortSignal, or undefined when not given; throws `invalidType` otherwise. */
export function validateSignal(value: unknown, what: string): AbortSignal | undefined {
  if (value === undefined) return undefined
  if (!(value instanceof AbortSignal)) throw invalidType(what, 'an AbortSignal', value)
  return value
}

/**
 * A string (a non-empty one when `nonEmpty`), or undefined when not given; throws `invalidType`
 * otherwise.
 *
 * @example
 * ```ts
 * const queue = validateString(opts.queue, 'The "queue" option', true) ?? 'taskscope'
 * ```
 */
export function validateString(value: unknown, what: string, nonEmpty = false): string | undefined {
  if (value === undefined) return undefined
  if (typeof value !== 'string' || (nonEmpty && value === '')) throw invalidType(what, nonEmpty ? 'a non-empty string' : 'a string', value)
  return value
}

/** A boolean, or undefined when not given; throws `invalidType` otherwise. */
export function validateBoolean(value: unknown, what: string): boolean | undefined {
  if (value === undefined) return undefined
  if (typeof value !== 'boolean') throw invalidType(what, 'a boolean', value)
  return value
}

/**
 * A function; throws `invalidType` for anything else (undefined included: check for it first
 * when the function is optional).
 *
 * @example
 * ```ts
 * const onError = opts.onError === undefined ? defaultOnError : validateFunction<OnError>(opts.onError, 'The "onError" option')
 * ```
 */
export function validateFunction<F extends (...args: never[]) => unknown>(value: unknown, what: string): F {
  if (typeof value !== 'function') throw invalidType(what, 'a function', value)
  return value as F
}

export function isPromiseLike(value: unknown): value is PromiseLike<unknown> {
  return (
    (typeof value === 'object' || typeof value === 'function') && value !== null && typeof (value as { then?: unknown }).then === 'function'
  )
}

/** True for an object with these methods: duck typing, as `instanceof` fails across package copies. */
export function hasMethods(value: unknown, names: readonly string[]): boolean {
  return (
    typeof value === 'object' && value !== null && names.every((name) => typeof (value as Record<string, unknown>)[name] === 'function')
  )
}
