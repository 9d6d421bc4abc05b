// Nest's exception filters see what escapes a handler before Express's or Fastify's error path
// does: a cancellation is answered here by core's rule (quiet 499, 503, 504; nothing once the
// client is gone), never logged at error, never a 500. Everything else goes on to Nest's own
// handling, an HttpException with its status.

import { type ArgumentsHost, Catch, type HttpServer } from '@nestjs/common'
import { BaseExceptionFilter } from '@nestjs/core'
import { isCancellation, TaskGroupError } from '@taskscope/core'
import { answerCancellation, escapedFailure } from '@taskscope/core/adapter'
import { throwError } from 'rxjs'
import { requestParts } from './request-parts.js'
import type { TaskscopeRuntime } from './taskscope-runtime.js'

/**
 * What {@link TaskscopeExceptionFilter} catches, for `@Catch()`: an error `isCancellation()` holds
 * for (`value instanceof Cancellation`), and a `TaskGroupError`. An Observable-returning handler needs nothing more: Nest
 * 12 itself unsubscribes from it when the client goes away, and says nothing.
 */
// biome-ignore lint/complexity/noStaticOnlyClass: @Catch() takes a class; its instanceof is the test.
export class Cancellation {
  static [Symbol.hasInstance](value: unknown): boolean {
    return isCancellation(value) || value instanceof TaskGroupError
  }
}

/**
 * The exception filter `TaskscopeModule` registers globally: an escaped cancellation is answered
 * as the adapters answer it (499 while the client is there, 503 on shutdown, 504 for a group
 * timeout; nothing once the client is gone), logged once at info or debug, never at error and
 * never as a 500. A cancellation caused by a task's failure (a sibling failed first) is answered
 * as that failure, by Nest's usual handling: an `HttpException` keeps its status, any other error
 * is Nest's 500, logged once. Anything else goes to Nest's usual handling. A catch-all filter of your own (`@Catch()`) registered later takes precedence: let it
 * hand cancellations to this one (`taskscopeFilter.catch(error, host)`, injected by its class).
 *
 * @example
 * ```ts
 * @Catch()
 * export class AllErrors implements ExceptionFilter {
 *   constructor(@Inject(TaskscopeExceptionFilter) private readonly taskscope: TaskscopeExceptionFilter) {}
 *   catch(error: unknown, host: ArgumentsHost) {
 *     if (isCancellation(error)) return this.taskscope.catch(error, host)
 *     // ... your handling
 *   }
 * }
 * ```
 */
export class TaskscopeExceptionFilter extends BaseExceptionFilter {
  readonly #taskscope: TaskscopeRuntime

  /** @internal Made by `TaskscopeModule`. */
  constructor(taskscope: TaskscopeRuntime, applicationRef: HttpServer) {
    super(applicationRef)
    this.#taskscope = taskscope
  }

  /**
   * Answers a cancellation quietly; passes anything else to Nest's base filter. Outside HTTP (a
   * microservice of a hybrid app) the cancellation is given back as the error of an Observable,
   * as RPC filters do.
   */
  override catch(exception: unknown, host: ArgumentsHost): unknown {
    if (host.getType() !== 'http') return throwError(() => exception)
    const http = host.switchToHttp()
    const parts = requestParts(http.getRequest(), http.getResponse(), this.#taskscope.runtime)
    // A cancellation caused by a task's failure, or a group's TaskGroupError of one failure, is
    // answered as that failure by Nest's own handling (an HttpException keeps its status).
    const failure = escapedFailure(exception, parts)
    if (failure !== undefined) return super.catch(failure.fail, host)
    const answer = answerCancellation(exception, parts)
    if (answer === undefined) return super.catch(exception, host)
    if (answer === 'end') {
      parts.reply?.hijack()
      if (!parts.res.writableEnded) (parts.res as { destroy?(): void }).destroy?.()
      return
    }
    const response: unknown = http.getResponse()
    const adapter = this.applicationRef ?? this.httpAdapterHost?.httpAdapter
    for (const [name, value] of Object.entries(answer.headers)) adapter!.setHeader(response, name, value)
    adapter!.reply(response, answer.body, answer.status)
  }
}
Catch(Cancellation)(TaskscopeExceptionFilter)
