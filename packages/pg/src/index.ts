/**
 * `@taskscope/pg`: node-postgres queries cancelled on the server when the taskscope scope that
 * made them is cancelled. `cancellable(pool)` once, at start; nothing else changes.
 *
 * @module
 */

export { cancellable } from './cancellable.js'
export type { QueryCancelMessage } from './query-cancel-channel.js'
