import { validateRouteOptions } from '@taskscope/core/adapter'
import { describe, expect, it } from 'vitest'

describe('validateRouteOptions', () => {
  it("returns a copy of valid options, leaving the caller's object alone", () => {
    const given = Object.freeze({ limit: 4, timeout: 2_000 })
    const valid = validateRouteOptions(given, 'c.route()')
    expect(valid).toEqual({ limit: 4, timeout: 2_000 })
    expect(valid).not.toBe(given)
    expect(validateRouteOptions({ limit: Infinity, timeout: Infinity }, 'c.route()')).toEqual({ limit: Infinity })
    expect(validateRouteOptions(undefined, 'c.route()')).toEqual({})
  })

  it.each([
    [{ limit: 0 }, 'ERR_OUT_OF_RANGE', /^The "limit" option of c\.route\(\) must be an integer >= 1 or Infinity\. Received 0 \(number\)$/],
    [{ limit: '2' }, 'ERR_INVALID_ARG_TYPE', /"limit" option of c\.route\(\) must be a number\. Received '2' \(string\)/],
    [{ timeout: -1 }, 'ERR_OUT_OF_RANGE', /"timeout" option of c\.route\(\) must be a number of milliseconds/],
    [
      { timout: 5 },
      'ERR_INVALID_ARG_VALUE',
      /The options of c\.route\(\) have an unknown key "timout" \(5 \(number\)\): use limit or timeout/,
    ],
    ['fast', 'ERR_INVALID_ARG_TYPE', /The options of c\.route\(\) must be an object\. Received 'fast'/],
  ])('refuses %o with %s, naming the option and the value', (options, code, message) => {
    expect(() => validateRouteOptions(options as never, 'c.route()')).toThrow(
      expect.objectContaining({ code, message: expect.stringMatching(message) }),
    )
  })
})
