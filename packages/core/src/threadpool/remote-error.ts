// Errors across the thread boundary. Structured clone keeps an error's `message`, `stack` and
// `cause` but loses its `name` (a custom class comes back as "Error"), its `code` and its own
// properties. So the worker serializes what it threw into plain data with
// `serializeThrown`, and the main thread rebuilds it with `deserializeThrown`. One
// module, imported by both sides, so the two can never disagree about the format.
import { inspect, types } from 'node:util'

const builtins = {
  Error,
  TypeError,
  RangeError,
  SyntaxError,
  ReferenceError,
  EvalError,
  URIError,
  AggregateError,
} as const

/** The built-in error class an error is rebuilt as: its nearest built-in ancestor. */
export type BuiltinErrorName = keyof typeof builtins

/** What a worker threw, as plain cloneable data: an error, or any other value. */
export type SerializedThrown = { readonly error: SerializedError } | { readonly value: unknown }

/** An error as plain data. */
export interface SerializedError {
  readonly type: BuiltinErrorName
  readonly name: string
  readonly message: string
  readonly stack: string | undefined
  readonly code?: unknown
  /** Present when the error had a `cause` (even `cause: undefined`). */
  readonly cause?: SerializedThrown
  /** An AggregateError's `errors`. */
  readonly errors?: readonly SerializedThrown[]
  /** Own enumerable properties other than name, message, stack, code and cause. */
  readonly props: Readonly<Record<string, SerializedThrown>>
}

const handled = new Set(['name', 'message', 'stack', 'code', 'cause'])
const builtinByPrototype = new Map<object, BuiltinErrorName>(
  Object.entries(builtins).map(([name, Class]) => [Class.prototype, name as BuiltinErrorName]),
)

function isError(value: unknown): value is Error {
  return value instanceof Error || types.isNativeError(value)
}

function builtinOf(error: Error): BuiltinErrorName {
  for (let proto = Object.getPrototypeOf(error); proto !== null; proto = Object.getPrototypeOf(proto)) {
    const name = builtinByPrototype.get(proto)
    if (name !== undefined) return name
  }
  return 'Error'
}

/** The value itself when structured clone can copy it, else a readable description of it. */
function cloneable(value: unknown): unknown {
  if (typeof value === 'symbol') return value.toString()
  if (typeof value === 'function') return inspect(value)
  if (typeof value !== 'object' || value === null) return value
  try {
    structuredClone(value)
    return value
  } catch {
    return inspect(value, { depth: 4, breakLength: Infinity })
  }
}

function read(object: object, key: PropertyKey): unknown {
  try {
    return (object as Record<PropertyKey, unknown>)[key]
  } catch (error) {
    return `[getter threw: ${String(error)}]`
  }
}

/**
 * Turns anything thrown into cloneable data. An error keeps its name, message, stack, code, cause
 * (recursively), own enumerable properties, an AggregateError's `errors`, and which built-in class
 * it extends; anything else is kept as a value (described with `util.inspect` if it cannot be
 * cloned). Never throws.
 *
 * @example
 * ```ts
 * port.postMessage(serializeThrown(error))
 * ```
 */
export function serializeThrown(thrown: unknown, path: Set<object> = new Set()): SerializedThrown {
  if (!isError(thrown)) return { value: cloneable(thrown) }
  if (path.has(thrown)) return { value: '[Circular]' }
  path.add(thrown)
  const props: Record<string, SerializedThrown> = {}
  for (const key of Object.keys(thrown)) {
    if (!handled.has(key)) props[key] = serializeThrown(read(thrown, key), path)
  }
  const code = read(thrown, 'code')
  const errors = thrown instanceof AggregateError ? read(thrown, 'errors') : undefined
  const stack = read(thrown, 'stack')
  const error: SerializedError = {
    type: builtinOf(thrown),
    name: String(read(thrown, 'name')),
    message: String(read(thrown, 'message')),
    stack: typeof stack === 'string' ? stack : undefined,
    props,
    ...(code !== undefined && { code: cloneable(code) }),
    ...('cause' in thrown && { cause: serializeThrown(read(thrown, 'cause'), path) }),
    ...(Array.isArray(errors) && { errors: errors.map((item) => serializeThrown(item, path)) }),
  }
  path.delete(thrown)
  return { error }
}

function defineHidden(target: object, key: string, value: unknown): void {
  Object.defineProperty(target, key, { value, writable: true, configurable: true, enumerable: false })
}

/**
 * Rebuilds what {@link serializeThrown} produced. An error becomes an instance of its built-in
 * ancestor class (`instanceof TypeError` holds for a TypeError or a subclass of it) with the
 * original `name`, `stack`, `code`, `cause` and own properties.
 *
 * @example
 * ```ts
 * throw deserializeThrown(reply.error)
 * ```
 */
export function deserializeThrown(serialized: SerializedThrown): unknown {
  if (!('error' in serialized)) return serialized.value
  const data = serialized.error
  const error =
    data.type === 'AggregateError'
      ? new AggregateError((data.errors ?? []).map(deserializeThrown), data.message)
      : new (builtins[data.type] ?? Error)(data.message)
  if (error.name !== data.name) defineHidden(error, 'name', data.name)
  defineHidden(error, 'stack', data.stack)
  if ('code' in data) (error as Error & { code?: unknown }).code = data.code
  if (data.cause !== undefined) defineHidden(error, 'cause', deserializeThrown(data.cause))
  for (const [key, value] of Object.entries(data.props)) {
    // defineProperty, not assignment: a property named "__proto__" must not change the prototype.
    Object.defineProperty(error, key, { value: deserializeThrown(value), writable: true, configurable: true, enumerable: true })
  }
  return error
}
