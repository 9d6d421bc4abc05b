// Argument and option validation: every error names the option and shows the value received,
// and carries Node's own error codes so callers can match on `code`.
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

export function invalidType(what: string, expected: string, value: unknown): CodedError<TypeError> {
  return codedError(TypeError, errorCodes.invalidArgType, `${what} must be ${expected}. Received ${describe(value)}`)
}

/** The TypeError of `new Task()` and the like: a class users get from a factory, never construct. */
export function illegalConstructor(name: string, factory: string): CodedError<TypeError> {
  return codedError(TypeError, errorCodes.illegalConstructor, `Illegal constructor: a ${name} is made by ${factory}`)
}

export function outOfRange(what: string, expected: string, value: unknown): CodedError<RangeError> {
  return codedError(RangeError, errorCodes.outOfRange, `${what} must be ${expected}. Received ${describe(value)}`)
}

/** Copies a caller's options bag (own enumerable properties only) after checking it is an object. */
export function copyOptions<T extends object>(options: T | undefined, what: string): Partial<T> {
  if (options === undefined) return {}
  if (typeof options !== 'object' || options === null || Array.isArray(options)) {
    throw invalidType(what, 'an object', options)
  }
  return { ...options }
}

/** The largest delay `setTimeout` honours; beyond it Node fires after 1 ms. */
const maxDelay = 2 ** 31 - 1

/** A duration in milliseconds: a number from 0 to 2^31-1, or Infinity for "never". */
export function validateDuration(value: unknown, what: string): number | undefined {
  if (value === undefined) return undefined
  if (typeof value !== 'number' || Number.isNaN(value)) throw invalidType(what, 'a number of milliseconds', value)
  if (value === Infinity) return undefined
  if (value < 0 || value > maxDelay) throw outOfRange(what, `a number of milliseconds from 0 to ${maxDelay}`, value)
  return value
}

/** An integer >= `min`, or Infinity when `allowInfinity`. */
export function validateInteger(value: unknown, what: string, min: number, allowInfinity = false): number | undefined {
  if (value === undefined) return undefined
  if (typeof value !== 'number') throw invalidType(what, 'a number', value)
  if (value === Infinity && allowInfinity) return Infinity
  if (!Number.isInteger(value) || value < min) {
    throw outOfRange(what, `an integer >= ${min}${allowInfinity ? ' or Infinity' : ''}`, value)
  }
  return value
}

export function validateSignal(value: unknown, what: string): AbortSignal | undefined {
  if (value === undefined) return undefined
  if (!(value instanceof AbortSignal)) throw invalidType(what, 'an AbortSignal', value)
  return value
}

export function validateString(value: unknown, what: string): string | undefined {
  if (value === undefined) return undefined
  if (typeof value !== 'string') throw invalidType(what, 'a string', value)
  return value
}

export function validateBoolean(value: unknown, what: string): boolean | undefined {
  if (value === undefined) return undefined
  if (typeof value !== 'boolean') throw invalidType(what, 'a boolean', value)
  return value
}

export function validateFunction<F extends (...args: never[]) => unknown>(value: unknown, what: string): F {
  if (typeof value !== 'function') throw invalidType(what, 'a function', value)
  return value as F
}

export function isPromiseLike(value: unknown): value is PromiseLike<unknown> {
  return (
    (typeof value === 'object' || typeof value === 'function') && value !== null && typeof (value as { then?: unknown }).then === 'function'
  )
}

/** A duration in milliseconds where Infinity is kept, meaning "no limit". */
export function validateLimit(value: unknown, what: string): number | undefined {
  return value === Infinity ? Infinity : validateDuration(value, what)
}

/** True for an object with these methods: duck typing, as `instanceof` fails across package copies. */
export function hasMethods(value: unknown, names: readonly string[]): boolean {
  return (
    typeof value === 'object' && value !== null && names.every((name) => typeof (value as Record<string, unknown>)[name] === 'function')
  )
}
