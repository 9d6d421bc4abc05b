// The option validation of the kit (`@taskscope/core/adapter`): one function per rule, used by
// core and by every package built on it, so one bad value gets one error wherever it is refused.
import { errorCodes } from '@taskscope/core'
import { copyOptions, invalidValue, validateFunction, validateInteger, validateString, validateTimeLimit } from '@taskscope/core/adapter'
import { describe, expect, it } from 'vitest'

const maxDelay = 2 ** 31 - 1
const coded = (code: string, message: RegExp) => expect.objectContaining({ code, message: expect.stringMatching(message) })

describe('validateTimeLimit: a duration in ms, or Infinity', () => {
  it('keeps undefined, Infinity and every number from 0 to 2^31-1', () => {
    for (const value of [undefined, Infinity, 0, 0.5, 1, 30_000, maxDelay])
      expect(validateTimeLimit(value, 'The "timeout" option')).toBe(value)
  })

  it('refuses a value of another type, and NaN, with ERR_INVALID_ARG_TYPE naming the option and the value', () => {
    for (const value of ['5s', null, {}, Number.NaN, 10n, () => 1]) {
      expect(() => validateTimeLimit(value, 'The "timeout" option')).toThrow(
        coded(errorCodes.invalidArgType, /^The "timeout" option must be a number of milliseconds\. Received /),
      )
    }
  })

  it('refuses a number out of range with ERR_OUT_OF_RANGE, saying that Infinity is allowed', () => {
    for (const value of [-1, -Infinity, maxDelay + 1]) {
      expect(() => validateTimeLimit(value, 'The "grace" option')).toThrow(
        coded(
          errorCodes.outOfRange,
          /^The "grace" option must be a number of milliseconds from 0 to 2147483647, or Infinity\. Received -?\w+ \(number\)$/,
        ),
      )
    }
  })
})

describe('validateInteger', () => {
  it('checks the type, then integer and range; the message gives the range asked for', () => {
    expect(validateInteger(3, 'n', 1)).toBe(3)
    expect(validateInteger(Infinity, 'n', 1, true)).toBe(Infinity)
    expect(() => validateInteger('3', 'The "n" option', 1)).toThrow(
      coded(errorCodes.invalidArgType, /must be a number\. Received '3' \(string\)/),
    )
    expect(() => validateInteger(1.5, 'The "n" option', 1)).toThrow(coded(errorCodes.outOfRange, /must be an integer >= 1\. Received 1\.5/))
    expect(() => validateInteger(2 ** 31, 'The "n" option', 0, false, maxDelay)).toThrow(
      coded(errorCodes.outOfRange, /must be an integer from 0 to 2147483647\. Received 2147483648/),
    )
    expect(() => validateInteger(Infinity, 'The "n" option', 0)).toThrow(
      coded(errorCodes.outOfRange, /an integer >= 0\. Received Infinity/),
    )
  })
})

describe('validateString, validateFunction, invalidValue', () => {
  it('say what was expected and what came', () => {
    expect(validateString('', 'q')).toBe('')
    expect(() => validateString('', 'The "queue" option', true)).toThrow(
      coded(errorCodes.invalidArgType, /a non-empty string\. Received ''/),
    )
    expect(() => validateFunction(1, 'The "onError" option')).toThrow(
      coded(errorCodes.invalidArgType, /must be a function\. Received 1 \(number\)/),
    )
    expect(invalidValue('The "id" option', 'without ":"', 'a:b')).toMatchObject({ name: 'TypeError', code: errorCodes.invalidArgValue })
  })
})

describe('copyOptions', () => {
  it('copies own properties into a fresh object and never writes to the caller’s', () => {
    const given = Object.freeze({ timeout: 1, nested: { a: 1 } })
    const copy = copyOptions<{ timeout?: number; extra?: number }>(given, 'The options')
    expect(copy).toEqual(given)
    expect(copy).not.toBe(given)
    copy.extra = 2
    expect(given).not.toHaveProperty('extra')
  })

  it('refuses what is not an object, and lets a throwing getter or a Proxy trap throw where it is read', () => {
    for (const value of [null, [], 'x', 1]) {
      expect(() => copyOptions(value as never, 'The options')).toThrow(coded(errorCodes.invalidArgType, /^The options must be an object/))
    }
    const hostile = Object.defineProperty({}, 'timeout', {
      enumerable: true,
      get() {
        throw new Error('getter')
      },
    })
    expect(() => copyOptions(hostile, 'The options')).toThrow('getter')
    const trap = new Proxy(
      {},
      {
        ownKeys() {
          throw new Error('trap')
        },
      },
    )
    expect(() => copyOptions(trap, 'The options')).toThrow('trap')
  })
})
