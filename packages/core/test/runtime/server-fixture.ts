// The runtime suites' shared setup: a node:http server on a loopback port and a runtime with a
// recording logger, fresh for every test. Tests answer requests by setting `fixture.handle`;
// `server`, `port`, `runtime` and `log` are live bindings, read after `useRuntimeServer()` ran.
import http from 'node:http'
import { createRuntime, type Runtime } from '@taskscope/core'
import {
  closeServer,
  type HttpResponse,
  httpRequest,
  listenOnLoopback,
  type MemoryLogger,
  memoryLogger,
  rawConnect,
} from '@taskscope/test-support'
import { afterEach, beforeEach } from 'vitest'

export let server: http.Server
export let port: number
export let runtime: Runtime
export let log: MemoryLogger

/** What the server does with each request; tests replace `handle`. */
export const fixture: { handle: (req: http.IncomingMessage, res: http.ServerResponse) => void } = {
  handle: (_req, res) => res.end(),
}

/** Registers the per-test setup and teardown in the calling test file. */
export function useRuntimeServer(): void {
  beforeEach(async () => {
    log = memoryLogger()
    runtime = createRuntime({ logger: log.logger })
    fixture.handle = (_req, res) => res.end()
    server = http.createServer((req, res) => fixture.handle(req, res))
    port = await listenOnLoopback(server)
  })

  afterEach(async () => {
    await closeServer(server)
    await runtime.close({ timeout: 0 })
  })
}

/** A GET on a fresh connection (or on `agent`'s), read to the end. */
export const get = (path: string, agent: http.Agent | false = false): Promise<HttpResponse> => httpRequest(port, { path, agent }).response

/** A raw client connection to the server. */
export const connect = () => rawConnect(port)
