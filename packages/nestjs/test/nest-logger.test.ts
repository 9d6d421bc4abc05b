// nestLogger: taskscope's (fields, message) entries onto a Nest LoggerService, whatever the fields hold.
import type { LoggerService } from '@nestjs/common'
import { nestLogger } from '@taskscope/nestjs'
import fc from 'fast-check'
import { describe, expect, it } from 'vitest'

function recording() {
  const calls: Array<{ method: string; args: unknown[] }> = []
  const at =
    (method: string) =>
    (...args: unknown[]) =>
      void calls.push({ method, args })
  const service: LoggerService = { log: at('log'), error: at('error'), warn: at('warn'), debug: at('debug') }
  return { service, calls }
}

/** Field values as hostile as log fields get: throwing getters, revoked proxies, cycles, odd thenables. */
const makers: Record<string, () => unknown> = {
  getter: () =>
    Object.defineProperty({}, 'boom', {
      enumerable: true,
      get() {
        throw new Error('getter')
      },
    }),
  revoked: () => {
    const { proxy, revoke } = Proxy.revocable({}, {})
    revoke()
    return proxy
  },
  cycle: () => {
    const cycle: Record<string, unknown> = {}
    cycle.self = cycle
    return cycle
  },
  thenable: () => ({
    // biome-ignore lint/suspicious/noThenProperty: an odd thenable is the point
    then() {
      throw new Error('thenable')
    },
  }),
}
// Made inside the property: fast-check itself cannot hold a revoked proxy.
const kHostile = Symbol('hostile')
const hostile = fc.oneof(
  fc.anything(),
  fc.constantFrom(...Object.keys(makers)).map((kind) => ({ [kHostile]: kind })),
)
const materialize = (value: unknown): unknown =>
  typeof value === 'object' && value !== null && kHostile in value ? makers[(value as Record<symbol, string>)[kHostile]!]!() : value

describe('nestLogger()', () => {
  it('maps levels: info → log, error with the stack of `err`', () => {
    const { service, calls } = recording()
    const logger = nestLogger(service)
    logger.info({ tasks: 2 }, 'client went away')
    const err = new Error('boom')
    logger.error({ err }, 'request group failed')
    logger.warn({}, 'stragglers')
    logger.debug?.({}, 'detail')
    expect(calls).toEqual([
      { method: 'log', args: ['client went away { tasks: 2 }'] },
      { method: 'error', args: ['request group failed: boom', err.stack] },
      { method: 'warn', args: ['stragglers'] },
      { method: 'debug', args: ['detail'] },
    ])
  })

  it('skips debug when the service has none', () => {
    const logger = nestLogger({ log() {}, error() {}, warn() {} })
    expect(() => logger.debug?.({}, 'detail')).not.toThrow()
  })

  it('writes one string line per entry, whatever the fields hold, and never throws', () => {
    fc.assert(
      fc.property(fc.dictionary(fc.string(), hostile), fc.option(fc.string(), { nil: undefined }), hostile, (fields, message, err) => {
        const { service, calls } = recording()
        const logger = nestLogger(service)
        const entry = Object.fromEntries(Object.entries(fields).map(([key, value]) => [key, materialize(value)]))
        for (const level of ['info', 'warn', 'error'] as const) logger[level]({ ...entry, err: materialize(err) }, message)
        expect(calls.map((call) => call.method)).toEqual(['log', 'warn', 'error'])
        for (const call of calls) expect(typeof call.args[0]).toBe('string')
      }),
    )
  })
})
