// `currentSignal()` and `shield()`: the AbortSignal of the scope the current code runs in, so that
// I/O (an outbound request, a database query) can be cancelled with its task or request without
// the signal being passed down by hand. The scopes themselves live in current-task-group.ts.
import { invalidType } from '../internal/validation.js'
import { enableScopes, scopeSignal, scopesOn, withSignal } from './current-task-group.js'

/**
 * The AbortSignal of the innermost scope the current code runs in, wherever it is in that scope's
 * async call tree (across awaits, timers and callbacks):
 * - in a task: one that aborts when that task is cancelled, by `task.cancel()`, by its group
 *   (`group.cancel()`, a sibling's failure, the group's timeout or parent signal), or because it
 *   lost a `firstSuccessful` / `runUntilFirstComplete` race: its siblings go on;
 * - in a request handler outside any task: the request group's (it aborts when the client
 *   disconnects; the group is created if it was not yet);
 * - in a background task, `after()` or `waitUntil()` work: that background task's own, never the
 *   request's;
 * - inside {@link shield}, and outside any scope: `undefined`.
 *
 * Tasks get a scope of their own (an AsyncLocalStorage entry each) only once something in the
 * process has asked for it: the first call of `currentSignal()`, or `cancellationInterceptor()`
 * and `@taskscope/pg`'s `cancellable()`, which ask when they are set up. Until then a task sees
 * its group's signal (which aborts when the group is cancelled, not on `task.cancel()` alone), and
 * a background task `undefined`. Set those up at start, before any request is served. Never throws.
 *
 * @example
 * ```ts
 * export async function searchIndex(query: string) {
 *   // Cancelled with the task or request that called it, with nothing passed down.
 *   const response = await fetch(indexUrl(query), { signal: currentSignal() })
 *   return response.json()
 * }
 * ```
 */
export function currentSignal(): AbortSignal | undefined {
  if (!scopesOn()) enableScopes()
  return scopeSignal()
}

/**
 * Runs `fn()` with no {@link currentSignal}: what it starts (and what that calls, across awaits)
 * is not cancelled when the task or request around it is, for work that must finish even if the
 * client leaves (an audit record, a payment's bookkeeping). It returns what `fn` returns (its
 * promise, for an async function) and throws what it throws. `currentTaskGroup()` is unchanged
 * inside; a task started inside still has a signal of its own.
 *
 * Throws a TypeError (`ERR_INVALID_ARG_TYPE`) when `fn` is not a function.
 *
 * @example
 * ```ts
 * const rows = await pool.query('select … expensive …')              // cancelled if the client leaves
 * await shield(() => pool.query('insert into audit …', [user.id]))  // runs to completion whatever happens
 * ```
 */
export function shield<T>(fn: () => T): T {
  if (typeof fn !== 'function') throw invalidType('The "fn" argument of shield()', 'a function', fn)
  return withSignal(undefined, fn)
}

/**
 * Turns on the scopes {@link currentSignal} needs, for the rest of the process: from now on each
 * task, background task and race entry runs in a scope of its own (one AsyncLocalStorage entry
 * each). Idempotent. A process that never calls it (nor `currentSignal()`) never pays for it.
 * Libraries that read `currentSignal()` on behalf of the app (an HTTP interceptor, a database
 * wrapper) call it when they are set up, so that tasks started afterwards get their own signal.
 *
 * @example
 * ```ts
 * export function cancellableClient(client: Client): Client {
 *   enableCurrentSignal()
 *   return wrapQueries(client, () => currentSignal())
 * }
 * ```
 */
export function enableCurrentSignal(): void {
  enableScopes()
}
