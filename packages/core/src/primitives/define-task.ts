// Named tasks: the unit of work that can travel, to another process or machine, as a name plus
// JSON data. Embedded registries run them in-process; distributed ones store them in a queue.
import { type CodedError, codedError, errorCodes } from '../errors.js'
import { describe, invalidType, validateFunction } from '../internal/validation.js'

/** The function of a {@link defineTask} task: called with the job's data and an AbortSignal. */
export type TaskFunction<D, R> = (data: D, signal: AbortSignal) => R | PromiseLike<R>

/**
 * A named task made by {@link defineTask}: what `backgroundTasks.add(task, data)` runs, in this
 * process (embedded) or in whichever process takes it from the queue (`@taskscope/bullmq`).
 * Frozen; `D` is the type of its data, `R` of its result.
 */
export interface TaskDefinition<D = any, R = unknown> {
  /** The name that identifies the task in every process (and in the queue). */
  readonly name: string
  /** The task's function. */
  readonly fn: TaskFunction<D, R>
}

/** Options of `add(task, data, options)` on a background registry. */
export interface TaskAddOptions {
  /**
   * The job's id (the handle's `id`). Adding an id that is still known returns the existing
   * handle instead of starting the task again. Default: a random UUID.
   */
  id?: string
}

// Symbol.for: a definition made by one copy of the package is recognised by another.
const kTaskDefinition = Symbol.for('taskscope.taskDefinition')

/**
 * Makes a named task: `fn(data, signal)` with JSON data. The same definition runs in-process
 * with `BackgroundTasks` and on many machines with `BullmqBackgroundTasks`, so app code is the
 * same in both modes. Every process that runs the task must define it under the same name.
 *
 * Throws a TypeError (code `ERR_INVALID_ARG_TYPE` or `ERR_INVALID_ARG_VALUE`) when `name` is not
 * a non-empty string or `fn` is not a function.
 *
 * @example
 * ```ts
 * export const sendNewsletter = defineTask('newsletter.send', async (data: { list: string }, signal) => {
 *   const sent = await mailer.sendAll(data.list, { signal })
 *   return { sent }
 * })
 * const job = app.backgroundTasks.add(sendNewsletter, { list: 'weekly' }, { id: 'weekly-48' })
 * ```
 */
export function defineTask<D, R>(name: string, fn: TaskFunction<D, R>): TaskDefinition<D, Awaited<R>> {
  if (typeof name !== 'string') throw invalidType('The "name" argument', 'a non-empty string', name)
  if (name.length === 0) {
    throw codedError(TypeError, errorCodes.invalidArgValue, 'The "name" argument must be a non-empty string. Received an empty string')
  }
  validateFunction(fn, 'The "fn" argument')
  const definition = { name, fn: fn as TaskFunction<D, Awaited<R>> }
  Object.defineProperty(definition, kTaskDefinition, { value: true })
  Object.defineProperty(definition, Symbol.toStringTag, { value: 'TaskDefinition' })
  return Object.freeze(definition)
}

/** True for a task made by {@link defineTask} (also by another copy of this package). */
export function isTaskDefinition(value: unknown): value is TaskDefinition {
  return typeof value === 'object' && value !== null && (value as Record<symbol, unknown>)[kTaskDefinition] === true
}

/** How deeply task data may nest: deeper data is refused (JSON stores and readers stop well before a stack does). */
const maxDepth = 1000

/**
 * Checks that `data` comes back the same through `JSON.stringify`/`JSON.parse` (plain objects,
 * arrays, strings, finite numbers other than -0, booleans, null; `undefined` only as a property
 * value, which JSON drops and reading gives back) and returns it. Anything else (`undefined`
 * itself, a function, a Date, a Map, a class instance, a BigInt, NaN, -0, an array with extra
 * properties, a cycle, nesting deeper than 1,000 levels, a getter or Proxy trap that throws) is a
 * TypeError with code `ERR_TASK_DATA_NOT_JSON` that names where it is.
 *
 * @example
 * ```ts
 * validateTaskData({ when: new Date() }, 'The "data" argument') // throws: data.when is a Date
 * ```
 */
export function validateTaskData<D>(data: D, what: string): D {
  let problem: string | undefined
  let cause: unknown
  try {
    problem =
      data === undefined ? 'data is undefined (JSON has no undefined: pass null or an object)' : jsonProblem(data, 'data', new Set(), 0)
  } catch (error) {
    // A throwing getter, a Proxy trap that throws: refused, with the user's error as the cause.
    cause = error
    problem = `reading it threw ${error instanceof Error ? `${error.name}: ${error.message}` : describe(error)}`
  }
  if (problem !== undefined) {
    const options = cause === undefined ? undefined : { cause }
    throw codedError(TypeError, errorCodes.taskDataNotJson, `${what} must survive JSON (it travels as JSON): ${problem}`, options)
  }
  return data
}

/**
 * Checks a task's result: like {@link validateTaskData}, except that `undefined` (a task that
 * returns nothing) is accepted and arrives as `undefined`.
 */
export function validateTaskResult<R>(result: R, what: string): R {
  return result === undefined ? result : validateTaskData(result, what)
}

/** Where and why `value` would not survive a JSON round trip, or undefined. */
function jsonProblem(value: unknown, path: string, seen: Set<object>, depth: number): string | undefined {
  switch (typeof value) {
    case 'string':
    case 'boolean':
      return undefined
    case 'number':
      if (Object.is(value, -0)) return `${path} is -0 (JSON turns it into 0)`
      return Number.isFinite(value) ? undefined : `${path} is ${value}`
    case 'object':
      break
    default:
      return `${path} is ${describe(value)}`
  }
  if (value === null) return undefined
  if (depth >= maxDepth) return `${path} is nested deeper than ${maxDepth} levels`
  if (seen.has(value)) return `${path} is a circular reference`
  const proto = Object.getPrototypeOf(value)
  const isArray = Array.isArray(value)
  if (!isArray && proto !== Object.prototype && proto !== null) {
    return `${path} is ${describeObject(value)}, not a plain object`
  }
  if (isArray && proto !== Array.prototype) return `${path} is ${describeObject(value)}, not a plain array`
  seen.add(value)
  try {
    if (Object.getOwnPropertySymbols(value).length > 0) return `${path} has symbol keys`
    if (isArray) {
      const length = value.length
      const keys = Object.keys(value)
      if (keys.length !== length) {
        const extra = keys.find((key) => !(String(Number(key)) === key && Number(key) < length))
        return extra === undefined
          ? `${path} has holes (JSON turns them into null)`
          : `${path} has the extra property ${JSON.stringify(extra)} (JSON drops it)`
      }
      for (let i = 0; i < length; i++) {
        const item = value[i]
        if (item === undefined) return `${path}[${i}] is undefined (JSON turns it into null)`
        const problem = jsonProblem(item, `${path}[${i}]`, seen, depth + 1)
        if (problem !== undefined) return problem
      }
      return undefined
    }
    for (const [key, item] of Object.entries(value)) {
      if (item === undefined) continue // dropped by JSON: reading it back gives undefined too
      const problem = jsonProblem(
        item,
        /^[A-Za-z_$][\w$]*$/.test(key) ? `${path}.${key}` : `${path}[${JSON.stringify(key)}]`,
        seen,
        depth + 1,
      )
      if (problem !== undefined) return problem
    }
    return undefined
  } finally {
    seen.delete(value)
  }
}

function describeObject(value: object): string {
  const name = (value as { constructor?: { name?: unknown } }).constructor?.name
  return typeof name === 'string' && name !== '' ? `a ${name}` : describe(value)
}

/** A JSON copy of valid task data: what the task sees in another process, seen in this one too. */
export function jsonCopy<D>(data: D): D {
  return data === undefined ? data : (JSON.parse(JSON.stringify(data)) as D)
}

/** @internal The TypeError for a task id that is not a non-empty string. */
export function invalidTaskId(id: unknown): CodedError<TypeError> {
  return typeof id === 'string'
    ? codedError(TypeError, errorCodes.invalidArgValue, 'The "id" option must be a non-empty string. Received an empty string')
    : invalidType('The "id" option', 'a non-empty string', id)
}
