// Failures on their way to Koa's error sink, `app.emit('error', err, ctx)`: its default listener
// prints only `err.stack`, so what it gets must carry the real error's message and stack.
import { type BackgroundTasksOptions, errorCodes, isCancellation, type RuntimeOptions } from '@taskscope/core'

/**
 * The failed tasks' own errors in an unobserved request-group failure (a TaskGroupError, also
 * nested), cancellations left out: each reaches Koa's sink with its own message and stack.
 */
export function taskFailures(error: unknown): unknown[] {
  const group = error as { code?: unknown; errors?: unknown } | null
  const errors = group?.code === errorCodes.taskGroup ? group.errors : undefined
  if (!Array.isArray(errors)) return isCancellation(error) ? [] : [error]
  return errors.flatMap(taskFailures)
}

/**
 * A background failure for Koa's sink: its message names the task, its stack ends with the
 * failure's own, and `cause` is the failure itself.
 */
export function backgroundFailure(error: unknown, task: { id: string; name: string }): Error {
  const text = error instanceof Error ? error.message : String(error)
  const failure = new Error(`Background task "${task.name}" (id ${task.id}) failed: ${text}`, { cause: error })
  const stack = error instanceof Error && typeof error.stack === 'string' ? error.stack : text
  failure.stack = `${failure.name}: ${failure.message}\ncaused by: ${stack}`
  return failure
}

/**
 * The options with `onError` as the background tasks' failure handler, unless the caller chose
 * their own (an `onError`, or a `BackgroundTasks`). Anything invalid is passed on untouched, for
 * the runtime to report.
 */
export function withBackgroundErrors<T extends RuntimeOptions>(
  options: T | undefined,
  onError: NonNullable<BackgroundTasksOptions['onError']>,
): T | undefined {
  if (options !== undefined && (typeof options !== 'object' || options === null || Array.isArray(options))) return options
  const background = options?.backgroundTasks as BackgroundTasksOptions | undefined
  if (background !== undefined && (typeof background !== 'object' || background === null || 'add' in background)) return options
  if (background?.onError !== undefined) return options
  return { ...options, backgroundTasks: { ...background, onError } } as T
}
