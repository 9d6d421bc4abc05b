import { afterEach, describe, expect, it, vi } from 'vitest'
import { TroubleReport } from '../src/trouble-report.js'

afterEach(() => vi.restoreAllMocks())

describe('TroubleReport', () => {
  it('reports each kind of failure once until reset(), then anew', () => {
    const seen: unknown[] = []
    const troubles = new TroubleReport((error) => seen.push(error))
    const first = new Error('READONLY You cannot write against a read only replica')
    troubles.report(first)
    troubles.report(new Error('READONLY You cannot write against a read only replica'))
    troubles.report(new TypeError('READONLY You cannot write against a read only replica'))
    troubles.report('a string')
    troubles.report('a string')
    expect(seen).toEqual([first, expect.any(TypeError), 'a string'])
    troubles.reset()
    troubles.report(first)
    expect(seen).toHaveLength(4)
  })

  it('never throws: a failing hook is reported with the failure it was given', () => {
    const stderr = vi.spyOn(console, 'error').mockImplementation(() => {})
    const hookError = new Error('the hook broke')
    const troubles = new TroubleReport(() => {
      throw hookError
    })
    const failure = new Error('NOSCRIPT')
    expect(() => troubles.report(failure)).not.toThrow()
    expect(stderr).toHaveBeenCalledTimes(1)
    const reported = stderr.mock.calls[0]?.[1]
    expect(reported).toBeInstanceOf(AggregateError)
    expect((reported as AggregateError).errors).toEqual([failure, hookError])
  })
})
