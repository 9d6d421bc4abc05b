// What the filter needs of a request under Nest, on either platform: the Node request and
// response, the request's task group if one was made, and the logger to use.
import type { HttpRequest, HttpResponse, Runtime, RuntimeLogger, TaskGroup } from '@taskscope/core'
import { asLogger } from '@taskscope/core/adapter'

/** The request as the filter sees it: Nest passes Express's `req`/`res` or Fastify's `request`/`reply`. */
export interface RequestParts {
  req: HttpRequest
  res: HttpResponse
  group: TaskGroup | undefined
  logger: RuntimeLogger
  /** Fastify's reply, which must be told that the response is handled outside it. */
  reply: { hijack(): unknown } | undefined
}

// The adapters keep the request's group under these keys (Symbol.for: shared by every copy).
const kExpressGroup = Symbol.for('taskscope.express.taskGroup')
const kFastifyGroup = Symbol.for('taskscope.fastify.taskGroup')

type FastifyRequestLike = { raw: HttpRequest; log?: unknown; [kFastifyGroup]?: TaskGroup | null }
type FastifyReplyLike = { raw: HttpResponse; hijack(): unknown }

/** A Fastify logger that writes something: `fastify({ logger: false })` (Nest's default) gives a silent one without a level. */
function writingLogger(value: unknown): RuntimeLogger | undefined {
  const level = (value as { level?: unknown } | null | undefined)?.level
  return typeof level === 'string' && level !== 'silent' ? asLogger(value) : undefined
}

/** Reads the parts of a request that the app's platform passed to a filter. */
export function requestParts(request: unknown, response: unknown, runtime: Runtime): RequestParts {
  if (typeof request === 'object' && request !== null && 'raw' in request) {
    const fastifyRequest = request as FastifyRequestLike
    const reply = response as FastifyReplyLike
    return {
      req: fastifyRequest.raw,
      res: reply.raw,
      group: fastifyRequest[kFastifyGroup] ?? undefined,
      logger: writingLogger(fastifyRequest.log) ?? runtime.logger,
      reply,
    }
  }
  const req = request as HttpRequest & { log?: unknown; [kExpressGroup]?: TaskGroup | null }
  return {
    req,
    res: response as HttpResponse,
    group: req[kExpressGroup] ?? undefined,
    logger: asLogger(req.log) ?? runtime.logger,
    reply: undefined,
  }
}
