// `workerTask`: a handle on a function exported by a module, for `Threadpool.run`. The worker
// imports the module itself, so the function may use imports, closures over module state, and
// anything else a normal module can; nothing is shipped but the URL and the export name.
import { isAbsolute } from 'node:path'
import { pathToFileURL } from 'node:url'
import { invalidType, validateString } from '../internal/validation.js'

/** Any function a pool can run (its parameters are checked per call, through `Parameters<F>`). */
export type PoolFunction = (...args: any[]) => unknown

declare const taskFunction: unique symbol

/**
 * A function exported by a module, made with {@link workerTask}. `F` is the function's type
 * (type-only: it types `run`'s arguments and result).
 */
export interface WorkerTask<F extends PoolFunction = PoolFunction> {
  /** The module's URL (`file:`, `data:` ...). */
  readonly moduleUrl: string
  /** The export to call. */
  readonly exportName: string
  /** `module#export` (the module's file name), used in error messages. */
  readonly name: string
  /** Type-only marker carrying `F`; never set at run time. */
  readonly [taskFunction]?: F
}

const handles = new WeakSet<object>()

/** True for a handle made by {@link workerTask}. */
export function isWorkerTask(value: unknown): value is WorkerTask {
  return typeof value === 'object' && value !== null && handles.has(value)
}

function toModuleUrl(moduleUrl: unknown): string {
  if (moduleUrl instanceof URL) return moduleUrl.href
  if (typeof moduleUrl === 'string') {
    if (isAbsolute(moduleUrl)) return pathToFileURL(moduleUrl).href
    // Two letters at least before ':' so that a Windows drive ("C:") is not read as a scheme.
    if (/^[a-z][a-z\d+.-]+:/i.test(moduleUrl) && URL.canParse(moduleUrl)) return new URL(moduleUrl).href
  }
  throw invalidType('The "moduleUrl" argument', "a URL (new URL('./tasks.js', import.meta.url)) or an absolute file path", moduleUrl)
}

/**
 * Names a function exported by a module, to run in a Threadpool: `pool.run(task, args)`. The
 * worker imports the module once and calls the export with `args`. Prefer this to shipping a
 * function when the code needs imports or shared module state, or is large.
 *
 * Throws a TypeError (code `ERR_INVALID_ARG_TYPE`) when `moduleUrl` is neither a URL nor an
 * absolute path, or `exportName` is not a string. A module or export that does not exist is
 * reported when the task runs (the call rejects).
 *
 * @example
 * ```ts
 * const resize = workerTask<typeof import('./images.js').resize>(new URL('./images.js', import.meta.url), 'resize')
 * const thumbnail = await pool.run(resize, [buffer, 200], { signal })
 * ```
 */
export function workerTask<F extends PoolFunction = PoolFunction>(moduleUrl: URL | string, exportName = 'default'): WorkerTask<F> {
  const url = toModuleUrl(moduleUrl)
  validateString(exportName, 'The "exportName" argument')
  const parsed = new URL(url)
  const file = parsed.protocol === 'file:' ? parsed.pathname.split('/').pop() : url.length > 40 ? `${url.slice(0, 40)}…` : url
  const handle: WorkerTask<F> = Object.freeze({ moduleUrl: url, exportName, name: `${file}#${exportName}` })
  handles.add(handle)
  return handle
}
