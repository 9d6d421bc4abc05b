/**
 * The kit for packages built on taskscope: what the Fastify, Express and Koa adapters share, so
 * that a new adapter maps its framework's hooks onto these calls and decides nothing on its own,
 * and the option validation every package uses (`@taskscope/bullmq` too), so that a bad option
 * gets the same coded error, worded the same way, whichever package refused it. App code needs
 * none of it: use `@taskscope/core`.
 *
 * @module
 */

// Errors: coded errors of built-in classes, from the one table.

export type { CodedError, ErrorCode } from './errors.js'
export { codedError, errorCodes } from './errors.js'

// Option validation: the checks every package runs, with the same coded errors and messages.

export {
  copyOptions,
  invalidType,
  invalidValue,
  outOfRange,
  validateBoolean,
  validateFunction,
  validateInteger,
  validateString,
  validateTimeLimit,
} from './internal/validation.js'
export { isTaskDefinition, validateTaskData, validateTaskResult } from './primitives/define-task.js'

// A request's life: its binding to the runtime, its route options, the response's end.

export type { RequestBinding, RequestBindingOptions } from './runtime/request-binding.js'
export { alreadyRegisteredError, requestBinding } from './runtime/request-binding.js'
export type { HttpRequest, HttpResponse, ResponseLifecycleHandlers } from './runtime/response-lifecycle.js'
export { watchResponse } from './runtime/response-lifecycle.js'
export type { RouteGroupOptions } from './runtime/route-options.js'
export { validateRouteOptions } from './runtime/route-options.js'

// What an adapter answers: an escaped failure or cancellation, the 503 while draining.

export type { HttpAnswer } from './runtime/draining-answer.js'
export { drainingAnswer, shuttingDownAnswer } from './runtime/draining-answer.js'
export type { CancellationAnswer, EscapedAnswer, EscapedCancellationContext } from './runtime/escaped-cancellation.js'
export { answerCancellation, answerEscaped, cancellationStatus, escapedFailure } from './runtime/escaped-cancellation.js'

// The scope of a request's code: `currentSignal()` inside it.

export { enableCurrentSignal } from './primitives/current-signal.js'

// The middleware: its factory's guard, its handle on the runtime, the logger it is given.

export type { LogMethod, RuntimeLogger } from './runtime/logger.js'
export { asLogger } from './runtime/logger.js'
export type { RuntimeHandle } from './runtime/middleware-handle.js'
export { rejectUncalled, withRuntimeHandle } from './runtime/middleware-handle.js'
