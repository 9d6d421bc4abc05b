// cancellationStatus: the HTTP status of a cancellation that escaped a handler; answerEscaped: the
// one rule every adapter applies to an error escaping a handler (a cancellation answered for its cause).
import type http from 'node:http'
import { setTimeout as sleep } from 'node:timers/promises'
import {
  CancelledError,
  ClientDisconnectedError,
  cancellationStatus,
  ShutdownError,
  TaskGroup,
  TaskGroupError,
  TimeoutError,
} from '@taskscope/core'
import { answerEscaped, escapedFailure } from '@taskscope/core/adapter'
import { memoryLogger } from '@taskscope/test-support'
import { describe, expect, it } from 'vitest'

describe('cancellationStatus', () => {
  it('maps cancellations to their status, 499 by default, and other errors to undefined', async () => {
    const abortError = await sleep(10_000, undefined, { signal: AbortSignal.abort(new ShutdownError()) }).catch((error) => error)
    const plainAbort = await sleep(10_000, undefined, { signal: AbortSignal.abort() }).catch((error) => error)
    expect(abortError.code).toBe('ABORT_ERR')
    expect(cancellationStatus(new ClientDisconnectedError())).toBe(499)
    expect(cancellationStatus(new CancelledError())).toBe(499)
    expect(cancellationStatus(new ShutdownError())).toBe(503)
    expect(cancellationStatus(new TimeoutError())).toBe(504)
    expect(cancellationStatus(abortError)).toBe(503) // Node's AbortError: its cause's status
    expect(cancellationStatus(plainAbort)).toBe(499)
    expect(cancellationStatus(new DOMException('late', 'TimeoutError'))).toBe(504)
    expect(cancellationStatus(new Error('boom'))).toBeUndefined()
    expect(cancellationStatus(undefined)).toBeUndefined()
  })
})

describe('answerEscaped: a cancellation is answered for its cause', () => {
  const exchange = (gone = false) =>
    ({
      req: { socket: { destroyed: gone } } as unknown as http.IncomingMessage,
      res: { destroyed: gone, headersSent: false } as unknown as http.ServerResponse,
    }) as const

  /** The cancellation a sibling's failure leaves the handler with, and the failure. */
  async function failedSibling(): Promise<{ escaped: unknown; failure: Error; group: TaskGroup }> {
    const group = new TaskGroup()
    const failure = Object.assign(new Error('feed service is down'), { statusCode: 502 })
    const slow = group.createTask((signal) => sleep(10_000, undefined, { signal }))
    group.createTask(async () => {
      throw failure
    })
    const escaped = await slow.then(undefined, (error: unknown) => error)
    return { escaped, failure, group }
  }

  it('a cancellation caused by a task failure answers that failure (to pass on), never 499', async () => {
    const { escaped, failure, group } = await failedSibling()
    expect(escaped).toBeInstanceOf(CancelledError)
    const log = memoryLogger()
    expect(answerEscaped(escaped, { ...exchange(), group, logger: log.logger })).toEqual({ fail: failure })
    expect(log.entries).toEqual([]) // the framework's error path logs it, once
    await group.close().catch(() => {})
  })

  it("the group's own signal (Node's AbortError wrapping its reason) answers the failure too", async () => {
    const { failure, group } = await failedSibling()
    const escaped = await sleep(10, undefined, { signal: group.signal }).catch((error: unknown) => error)
    expect(answerEscaped(escaped, { ...exchange(), group, logger: memoryLogger().logger })).toEqual({ fail: failure })
    await group.close().catch(() => {})
  })

  it('a TaskGroupError of one failure answers that failure; of several, itself; any other error, itself', () => {
    const one = new Error('one')
    const two = new Error('two')
    const context = { ...exchange(), logger: memoryLogger().logger }
    expect(escapedFailure(new TaskGroupError([one]), context)).toEqual({ fail: one })
    const both = new TaskGroupError([one, two])
    expect(escapedFailure(both, context)).toEqual({ fail: both })
    expect(escapedFailure(two, context)).toEqual({ fail: two })
  })

  it('other cancellations answer their status; once the client is gone, even a failure-caused one ends quietly', async () => {
    const { escaped, group } = await failedSibling()
    const log = memoryLogger()
    expect(answerEscaped(escaped, { ...exchange(true), group, logger: log.logger })).toBe('end')
    expect(answerEscaped(new TimeoutError(), { ...exchange(), logger: log.logger })).toMatchObject({ status: 504 })
    expect(answerEscaped(new ShutdownError(), { ...exchange(), logger: log.logger })).toMatchObject({ status: 503 })
    expect(answerEscaped(new CancelledError(), { ...exchange(), logger: log.logger })).toMatchObject({ status: 499 })
    expect(log.entries.map((entry) => entry.level)).toEqual(['debug', 'info', 'info', 'info'])
    await group.close().catch(() => {})
  })

  it('a user cancellation with a plain error as its reason is a cancellation, not a failure', () => {
    const group = new TaskGroup()
    group.cancel(new Error('not a failure'))
    const escaped = new CancelledError('cancelled', { cause: group.signal.reason })
    expect(answerEscaped(escaped, { ...exchange(), group, logger: memoryLogger().logger })).toMatchObject({ status: 499 })
  })
})
