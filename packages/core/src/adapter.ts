/**
 * The kit for adapter authors: what the Fastify, Express and Koa adapters share, so that a new
 * adapter maps its framework's hooks onto these calls and decides nothing on its own. App code
 * needs none of it: use `@taskscope/core`.
 *
 * @module
 */

export type { CodedError, ErrorCode } from './errors.js'
export { codedError, errorCodes } from './errors.js'
export { enableCurrentSignal } from './primitives/current-signal.js'
export { isTaskDefinition, validateTaskData, validateTaskResult } from './primitives/define-task.js'
export type { RuntimeHandle } from './runtime/adapter-kit.js'
export { drainingAnswer, rejectUncalled, withRuntimeHandle } from './runtime/adapter-kit.js'
export type { CancellationAnswer, EscapedCancellationContext, HttpAnswer } from './runtime/escaped-cancellation.js'
export { answerCancellation, cancellationStatus, shuttingDownAnswer } from './runtime/escaped-cancellation.js'
export type { LogMethod, RuntimeLogger } from './runtime/logger.js'
export { asLogger } from './runtime/logger.js'
export type { RequestBinding, RequestBindingOptions } from './runtime/request-binding.js'
export { alreadyRegisteredError, requestBinding } from './runtime/request-binding.js'
export type { HttpRequest, HttpResponse, ResponseLifecycleHandlers } from './runtime/response-lifecycle.js'
export { watchResponse } from './runtime/response-lifecycle.js'
export type { RouteGroupOptions } from './runtime/route-options.js'
export { validateRouteOptions } from './runtime/route-options.js'
