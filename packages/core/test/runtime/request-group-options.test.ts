// runtime.requestGroup's options are checked at the call, with coded errors naming the option and
// the value: a bad onError or logger must not wait for the first failure or disconnect to show.
import http from 'node:http'
import { createRuntime, type RequestGroupOptions, type Runtime } from '@taskscope/core'
import { closeServer, deferred, listenOnLoopback, memoryLogger } from '@taskscope/test-support'
import { afterEach, beforeEach, describe, expect, it } from 'vitest'

let server: http.Server
let port: number
let runtime: Runtime

beforeEach(async () => {
  runtime = createRuntime({ logger: memoryLogger().logger })
  server = http.createServer()
  port = await listenOnLoopback(server)
})

afterEach(async () => {
  await closeServer(server)
  await runtime.close({ timeout: 0 })
})

/** Calls requestGroup with `options` inside a real request; resolves with what it threw (or 'ok'). */
async function attempt(options: unknown): Promise<unknown> {
  const outcome = deferred<unknown>()
  server.once('request', (req: http.IncomingMessage, res: http.ServerResponse) => {
    try {
      runtime.requestGroup(req, res, options as RequestGroupOptions)
      outcome.resolve('ok')
    } catch (error) {
      outcome.resolve(error)
    }
    res.end()
  })
  const request = http.get({ host: '127.0.0.1', port, agent: false })
  request.on('response', (response) => response.resume())
  const result = await outcome.promise
  return result
}

describe('runtime.requestGroup options', () => {
  it.each([
    ['onError', { onError: 'log it' }, /The "onError" option of requestGroup must be a function\. Received 'log it' \(string\)/],
    ['onError', { onError: null }, /The "onError" option of requestGroup must be a function\. Received null/],
    ['logger', { logger: console.log }, /The "logger" option of requestGroup must be a logger .* Received function log/],
    [
      'logger',
      { logger: { info() {} } },
      /The "logger" option of requestGroup must be a logger .* Received \{ info: \[Function: info\] \}/,
    ],
    ['options', 'fast', /The requestGroup options must be an object\. Received 'fast' \(string\)/],
  ])('rejects a bad %s at the call: %o', async (_name, options, message) => {
    const error = await attempt(options)
    expect(error).toBeInstanceOf(TypeError)
    expect(error).toMatchObject({ code: 'ERR_INVALID_ARG_TYPE' })
    expect((error as Error).message).toMatch(message)
    expect(runtime.stats().requests.active).toBe(0) // nothing was created
  })

  it('accepts valid options, and none', async () => {
    const { logger } = memoryLogger()
    expect(await attempt(undefined)).toBe('ok')
    expect(await attempt({})).toBe('ok')
    expect(await attempt({ logger, onError: () => {}, limit: 2, timeout: 1000 })).toBe('ok')
    expect(await attempt({ logger: undefined, onError: undefined })).toBe('ok')
  })
})
