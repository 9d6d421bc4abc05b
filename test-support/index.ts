// @taskscope/test-support: the one set of test helpers every suite of the monorepo imports
// (core, fastify, express, koa, integration-tests, examples, bench). Everything is event driven:
// deferreds, AbortSignals, socket and process events; no sleeps.
//
// Teardown: sockets, agents, HTTP/2 sessions, pending deferreds and whatever `closeLater()` is
// given register with `track()`; `afterEach(cleanup)` releases them, clients first, servers last.
export { cleanup, closeLater, type Phase, track } from './cleanup.ts'
export { spinForever, sumTo } from './cpu.ts'
export { type Deferred, deferred } from './deferred.ts'
export { type FetchedResponse, post, request } from './fetch.ts'
export { agentSocketCount, type HttpCall, type HttpCallOptions, type HttpResponse, httpRequest, keepAliveAgent } from './http.ts'
export { type H2Call, h2connect, h2request } from './http2.ts'
export { type LogEntry, type MemoryLogger, memoryLogger } from './logger.ts'
export { poolsForEachTest } from './pools.ts'
export {
  type Activity,
  activity,
  newTag,
  type PostgresServer,
  postgresBinDir,
  postgresMissing,
  type Queryable,
  startPostgres,
  untilActivity,
  untilRunning,
  untilStopped,
} from './postgres.ts'
export { type NodeProcess, runNode } from './processes.ts'
export { events, flush, promiseState, rejectionOf } from './promises.ts'
export { serverPort } from './server-port.mjs'
export { codeOf, untilAborted, waitForAbort } from './signals.ts'
export {
  closeServer,
  connectionCount,
  listenOnLoopback,
  type RawConnection,
  type RawRequest,
  rawConnect,
  rawHttpRequest,
} from './sockets.ts'
export { collectUnhandled, collectWarnings } from './unhandled.ts'
export { startUpstream, type Upstream, type UpstreamCall } from './upstream.ts'
