import http from 'node:http'
import net from 'node:net'
import { CancelledError, ClientDisconnectedError, createRuntime } from '@taskscope/core'
import { answerCancellation, rejectUncalled, withRuntimeHandle } from '@taskscope/core/adapter'
import { memoryLogger } from '@taskscope/test-support'
import { describe, expect, it } from 'vitest'

describe('withRuntimeHandle', () => {
  it('puts the runtime and its shortcuts on a function', async () => {
    const runtime = createRuntime()
    const handle = withRuntimeHandle(() => 'middleware', runtime)
    expect(handle()).toBe('middleware')
    expect(handle.runtime).toBe(runtime)
    expect(handle.backgroundTasks).toBe(runtime.backgroundTasks)
    // The event loop's utilisation moves between two calls: compare the rest.
    const { eventLoop: _a, ...stats } = handle.stats()
    const { eventLoop: _b, ...expected } = runtime.stats()
    expect(stats).toEqual(expected)
    expect(handle.inspect()).toEqual(runtime.inspect())
    await handle.close()
    expect(runtime.draining).toBe(true)
  })
})

describe('rejectUncalled', () => {
  it('throws one coded TypeError when a factory receives a request or a context instead of its options', () => {
    const req = new http.IncomingMessage(new net.Socket())
    for (const value of [req, { app: {}, req, res: {} }]) {
      expect(() => rejectUncalled(value)).toThrow(
        expect.objectContaining({
          name: 'TypeError',
          code: 'ERR_INVALID_ARG_TYPE',
          message: expect.stringMatching(/you wrote app\.use\(concurrency\); call it instead, app\.use\(concurrency\(\)\)/),
        }),
      )
    }
  })

  it('lets options, and anything else for the runtime to report, through', () => {
    for (const value of [undefined, {}, { shutdownTimeout: 1 }, 'x', null]) expect(() => rejectUncalled(value)).not.toThrow()
  })
})

describe('answerCancellation', () => {
  const exchange = (over: { destroyed?: boolean; headersSent?: boolean } = {}) => ({
    req: { socket: { destroyed: over.destroyed ?? false } } as unknown as http.IncomingMessage,
    res: { destroyed: over.destroyed ?? false, headersSent: over.headersSent ?? false } as unknown as http.ServerResponse,
  })

  it('answers a cancellation with its status and a plain-text body, logged once at info without a stack', () => {
    const log = memoryLogger()
    const answer = answerCancellation(new CancelledError(), { ...exchange(), logger: log.logger })
    expect(answer).toEqual({ status: 499, headers: { 'Content-Type': 'text/plain; charset=utf-8' }, body: 'The operation was cancelled' })
    expect(log.entries).toEqual([
      {
        level: 'info',
        fields: { statusCode: 499, code: 'ERR_CANCELLED', message: 'The operation was cancelled' },
        message: 'request cancelled',
      },
    ])
  })

  it('ends the exchange once the client is gone (logged at debug) or headers went out (info); passes other errors on', () => {
    const log = memoryLogger()
    expect(answerCancellation(new ClientDisconnectedError(), { ...exchange({ destroyed: true }), logger: log.logger })).toBe('end')
    expect(answerCancellation(new CancelledError(), { ...exchange({ headersSent: true }), logger: log.logger })).toBe('end')
    expect(log.entries.map((entry) => entry.level)).toEqual(['debug', 'info'])
    expect(answerCancellation(new Error('boom'), { ...exchange(), logger: log.logger })).toBeUndefined()
    expect(log.entries).toHaveLength(2)
  })
})
