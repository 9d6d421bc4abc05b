// Main-thread side of function shipping: the source text of a function a Threadpool runs (or the
// module and export of a workerTask handle), and a process-wide id for each, so a task message
// carries a small number instead (workers ask for the entry of an id they have not met yet).
import { type CodedError, codedError, errorCodes } from '../errors.js'

/** A function a pool can ship, as the main thread knows it. */
export interface ShippedFunction {
  /** Process-wide id of `name` + `source`: equal functions share one id, so workers compile them once. */
  readonly id: number
  /** `fn.name`, or `'anonymous'`. */
  readonly name: string
  /** `Function.prototype.toString` of the function. */
  readonly source: string
}

/** What a worker needs to find the function behind an id. */
export type ShippedEntry =
  | { readonly name: string; readonly source: string }
  | { readonly name: string; readonly moduleUrl: string; readonly exportName: string }

const byFunction = new WeakMap<object, ShippedFunction>()
const byHandle = new WeakMap<object, number>()
const idByKey = new Map<string, number>()
const entries: ShippedEntry[] = []

function register(key: string, entry: ShippedEntry): number {
  let id = idByKey.get(key)
  if (id === undefined) {
    id = entries.push(entry) - 1
    idByKey.set(key, id)
  }
  return id
}
const nativeCode = /\{\s*\[native code\]\s*\}\s*$/
const classSource = /^class\b/

function refuse(message: string): CodedError<TypeError> {
  return codedError(TypeError, errorCodes.invalidArgValue, message)
}

/**
 * The source and id of `fn`, computed once per function object. Throws a TypeError (code
 * `ERR_INVALID_ARG_VALUE`) for functions that have no shippable source: bound functions, native
 * functions (and proxies of functions, which print as native), and classes.
 *
 * Each distinct source stays registered for the life of the process, so build pool functions
 * statically (not with `new Function` per request).
 *
 * @example
 * ```ts
 * shipFunction((a: number, b: number) => a + b) // { id: 0, name: 'anonymous', source: '(a, b) => a + b' }
 * shipFunction(Math.max)                        // throws TypeError
 * ```
 */
export function shipFunction(fn: (...args: never[]) => unknown): ShippedFunction {
  const known = byFunction.get(fn)
  if (known !== undefined) return known
  const source = Function.prototype.toString.call(fn)
  const name = fn.name || 'anonymous'
  if (nativeCode.test(source)) {
    throw refuse(
      name.startsWith('bound ')
        ? `A Threadpool cannot ship the bound function "${name}": a bound function has no source. ` +
            'Pass the original function and put the bound values in the arguments.'
        : `A Threadpool cannot ship the native function "${name}": it has no JavaScript source. ` +
            'Wrap the call in a self-contained function, e.g. (...args) => Math.max(...args).',
    )
  }
  if (classSource.test(source)) {
    throw refuse(`A Threadpool cannot run the class "${name}": pass a function (classes cannot be called).`)
  }
  // The name is part of the key: it is bound in the compiled code (see compile-function.ts).
  const id = register(`fn\0${name}\0${source}`, { name, source })
  const shipped: ShippedFunction = { id, name, source }
  byFunction.set(fn, shipped)
  return shipped
}

/** The process-wide id of a workerTask handle (equal module and export share one). */
export function shipWorkerTask(handle: { moduleUrl: string; exportName: string; name: string }): number {
  let id = byHandle.get(handle)
  if (id === undefined) {
    const { moduleUrl, exportName, name } = handle
    id = register(`module\0${moduleUrl}\0${exportName}`, { name, moduleUrl, exportName })
    byHandle.set(handle, id)
  }
  return id
}

/** The entry registered under `id`, or undefined. */
export function entryOf(id: number): ShippedEntry | undefined {
  return entries[id]
}
