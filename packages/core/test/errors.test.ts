import { once } from 'node:events'
import { setTimeout as sleep } from 'node:timers/promises'
import {
  CancelledError,
  ClientDisconnectedError,
  ClosedError,
  isCancellation,
  QueueFullError,
  RequestFinishedError,
  ShutdownError,
  TaskGroupError,
  TimeoutError,
  WorkerCrashedError,
} from '@taskscope/core'
import { describe, expect, it } from 'vitest'

type ErrorClass = new (message?: string, options?: ErrorOptions) => Error

interface Row {
  Class: ErrorClass
  name: string
  code: string
  parent: ErrorClass
  /** Expected HTTP fields; `undefined` means the class must not carry the field. */
  statusCode?: number
  status?: number
  expose?: boolean
}

const rows: Row[] = [
  { Class: CancelledError, name: 'CancelledError', code: 'ERR_CANCELLED', parent: Error, statusCode: 499, status: 499, expose: true },
  { Class: TimeoutError, name: 'TimeoutError', code: 'ERR_TIMEOUT', parent: CancelledError, statusCode: 504, status: 504, expose: false },
  {
    Class: ClientDisconnectedError,
    name: 'ClientDisconnectedError',
    code: 'ERR_CLIENT_CLOSED_REQUEST',
    parent: CancelledError,
    statusCode: 499,
    status: 499,
    expose: true,
  },
  {
    Class: RequestFinishedError,
    name: 'RequestFinishedError',
    code: 'ERR_REQUEST_FINISHED',
    parent: CancelledError,
    statusCode: 499,
    status: 499,
    expose: true,
  },
  {
    Class: ShutdownError,
    name: 'ShutdownError',
    code: 'ERR_SHUTTING_DOWN',
    parent: CancelledError,
    statusCode: 503,
    status: 503,
    expose: false,
  },
  { Class: ClosedError, name: 'ClosedError', code: 'ERR_CLOSED', parent: Error, statusCode: 503, expose: false },
  { Class: QueueFullError, name: 'QueueFullError', code: 'ERR_QUEUE_FULL', parent: Error, statusCode: 503, expose: false },
  { Class: WorkerCrashedError, name: 'WorkerCrashedError', code: 'ERR_WORKER_CRASHED', parent: Error, expose: false },
]

describe.each(rows)('$name', ({ Class, name, code, parent, statusCode, status, expose }) => {
  it('has its name and code, and extends its parent', () => {
    const error = new Class()
    expect(error).toBeInstanceOf(Class)
    expect(error).toBeInstanceOf(parent)
    expect(error).toBeInstanceOf(Error)
    expect(error.name).toBe(name)
    expect((error as { code?: unknown }).code).toBe(code)
    expect(String(error)).toMatch(new RegExp(`^${name}: `))
    expect(error.stack).toMatch(new RegExp(`^${name}: `))
  })

  it('has a default message, a custom message, and keeps options.cause', () => {
    expect(new Class().message).toMatch(/\S/)
    const cause = new Error('root cause')
    const error = new Class('custom message', { cause })
    expect(error.message).toBe('custom message')
    expect(error.cause).toBe(cause)
    expect(new Class('no cause').cause).toBeUndefined()
    expect(Object.hasOwn(new Class('x'), 'cause')).toBe(false)
  })

  it('carries the HTTP fields of the contract', () => {
    const error = new Class() as Error & { statusCode?: number; status?: number; expose?: boolean }
    expect(error.statusCode).toBe(statusCode)
    expect(error.status).toBe(status)
    expect(error.expose).toBe(expose)
  })

  it('keeps name and code on the prototype, not as own enumerable properties', () => {
    const error = new Class('m', { cause: 1 })
    expect(Object.hasOwn(error, 'name')).toBe(false)
    expect(Object.hasOwn(error, 'code')).toBe(false)
    expect(Object.keys(error)).toEqual([])
    for (const key of ['name', 'code']) {
      const descriptor = Object.getOwnPropertyDescriptor(Class.prototype, key)
      expect(descriptor?.value).toBe(key === 'name' ? name : code)
      expect(descriptor?.enumerable).toBe(false)
    }
  })
})

describe('TaskGroupError', () => {
  it('is an AggregateError with name, code, its errors in order and the first as cause', () => {
    const first = new Error('first')
    const second = new TypeError('second')
    const error = new TaskGroupError([first, second])
    expect(error).toBeInstanceOf(AggregateError)
    expect(error).toBeInstanceOf(TaskGroupError)
    expect(error.name).toBe('TaskGroupError')
    expect(error.code).toBe('ERR_TASK_GROUP')
    expect(error.errors).toEqual([first, second])
    expect(error.errors[0]).toBe(first)
    expect(error.cause).toBe(first)
    expect(error.message).toMatch(/2 tasks/)
    expect(String(error)).toMatch(/^TaskGroupError: /)
    expect(Object.hasOwn(error, 'code')).toBe(false)
  })

  it('takes any iterable, a custom message and an explicit cause', () => {
    const a = new Error('a')
    const cause = new Error('explicit')
    const fromSet = new TaskGroupError(new Set([a]), 'custom', { cause })
    expect(fromSet.errors).toEqual([a])
    expect(fromSet.message).toBe('custom')
    expect(fromSet.cause).toBe(cause)
    expect(new TaskGroupError([a]).message).toMatch(/1 task\b/)
  })

  it('has no cause when the list is empty', () => {
    const error = new TaskGroupError([])
    expect(error.errors).toEqual([])
    expect(error.cause).toBeUndefined()
    expect(error.message).toMatch(/\S/)
  })
})

describe('isCancellation', () => {
  it.each([
    ['CancelledError', new CancelledError()],
    ['TimeoutError', new TimeoutError()],
    ['ClientDisconnectedError', new ClientDisconnectedError()],
    ['RequestFinishedError', new RequestFinishedError()],
    ['ShutdownError', new ShutdownError()],
    ['a subclass defined by the user', new (class MyCancel extends CancelledError {})()],
    ['a CancelledError from another copy of the package (code ERR_CANCELLED)', Object.assign(new Error('copy'), { code: 'ERR_CANCELLED' })],
    ["another copy's TimeoutError (code ERR_TIMEOUT)", Object.assign(new Error('copy'), { code: 'ERR_TIMEOUT' })],
    ['code ERR_CLIENT_CLOSED_REQUEST', Object.assign(new Error('copy'), { code: 'ERR_CLIENT_CLOSED_REQUEST' })],
    ['code ERR_REQUEST_FINISHED', Object.assign(new Error('copy'), { code: 'ERR_REQUEST_FINISHED' })],
    ['code ERR_SHUTTING_DOWN', Object.assign(new Error('copy'), { code: 'ERR_SHUTTING_DOWN' })],
    ["Node's AbortError shape (code ABORT_ERR)", Object.assign(new Error('aborted'), { code: 'ABORT_ERR' })],
    ['AbortSignal.abort().reason (DOMException AbortError)', AbortSignal.abort().reason],
    ['a DOMException named TimeoutError', new DOMException('late', 'TimeoutError')],
    [
      "fetch's TypeError for a request aborted under it (cause: a CancelledError)",
      new TypeError('fetch failed', { cause: new CancelledError() }),
    ],
    ["fetch's TypeError for a body cut by a disconnect", new TypeError('terminated', { cause: new ClientDisconnectedError() })],
  ])('is true for %s', (_label, error) => {
    expect(isCancellation(error)).toBe(true)
  })

  it('is true for the rejection of timers/promises setTimeout with an aborted signal', async () => {
    const error = await sleep(60_000, undefined, { signal: AbortSignal.abort() }).catch((e: unknown) => e)
    expect((error as { code?: string }).code).toBe('ABORT_ERR')
    expect(isCancellation(error)).toBe(true)
  })

  it('is true for events.once rejected by an aborting signal', async () => {
    const controller = new AbortController()
    const waiting = once(new EventTarget(), 'never', { signal: controller.signal }).catch((e: unknown) => e)
    controller.abort()
    const error = await waiting
    expect((error as { name?: string }).name).toBe('AbortError')
    expect(isCancellation(error)).toBe(true)
  })

  it('is true for the reason of AbortSignal.timeout', async () => {
    const signal = AbortSignal.timeout(1)
    await once(signal, 'abort')
    expect((signal.reason as DOMException).name).toBe('TimeoutError')
    expect(isCancellation(signal.reason)).toBe(true)
  })

  it.each([
    ['a plain Error', new Error('boom')],
    ['a TypeError', new TypeError('bad')],
    [
      'a TypeError caused by a network error',
      new TypeError('fetch failed', { cause: Object.assign(new Error('reset'), { code: 'ECONNRESET' }) }),
    ],
    [
      'a TypeError whose cause is a TypeError caused by a cancellation',
      new TypeError('x', { cause: new TypeError('y', { cause: new CancelledError() }) }),
    ],
    [
      'a TypeError whose cause getter throws',
      Object.defineProperty(new TypeError('hostile'), 'cause', {
        get() {
          throw new Error('getter')
        },
      }),
    ],
    ['an Error (not a TypeError) caused by a cancellation', new Error('wrapped', { cause: new CancelledError() })],
    ['a TaskGroupError (even of cancellations)', new TaskGroupError([new CancelledError()])],
    ['a ClosedError', new ClosedError()],
    ['a QueueFullError', new QueueFullError()],
    ['a WorkerCrashedError', new WorkerCrashedError()],
    ['an error with another code', Object.assign(new Error('x'), { code: 'ECONNRESET' })],
    ['the string "ERR_CANCELLED"', 'ERR_CANCELLED'],
    ['the string "AbortError"', 'AbortError'],
    ['null', null],
    ['undefined', undefined],
    ['a number', 499],
    ['an empty object', {}],
  ])('is false for %s', (_label, value) => {
    expect(isCancellation(value)).toBe(false)
  })
})

describe('expose: what a framework that honours it may show a client', () => {
  it('is false on every error taskscope creates at status 500 and above, true on the 499 cancellations', () => {
    expect(new TaskGroupError([new Error('x')]).expose).toBe(false)
    expect(new WorkerCrashedError().expose).toBe(false)
    expect(new ClosedError().expose).toBe(false)
    expect(new TimeoutError().expose).toBe(false)
    expect(new CancelledError().expose).toBe(true)
  })
})
