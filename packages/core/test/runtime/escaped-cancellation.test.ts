// cancellationStatus: the HTTP status of a cancellation that escaped a handler.
import { setTimeout as sleep } from 'node:timers/promises'
import { CancelledError, ClientDisconnectedError, cancellationStatus, ShutdownError, TimeoutError } from '@taskscope/core'
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
