// Every numeric Threadpool option has a documented range; a value outside it is refused at once,
// with a coded RangeError naming the option and the value, before any thread starts.

import { Threadpool } from '@taskscope/core'
import { poolsForEachTest } from '@taskscope/test-support'
import { describe, expect, it } from 'vitest'

const pool = poolsForEachTest()

/** The error `new Threadpool(options)` throws (fails the test if it does not throw). */
function constructorError(options: object): any {
  try {
    new Threadpool(options).destroy()
  } catch (error) {
    return error
  }
  throw new Error(`new Threadpool(${JSON.stringify(options)}) did not throw`)
}

describe('Threadpool options: upper bounds', () => {
  it.each([
    ['maxThreads', { maxThreads: 2 ** 53 }, /"maxThreads" option must be an integer from 1 to 1024\. Received 9007199254740992/],
    ['maxThreads', { maxThreads: 1025 }, /"maxThreads".*1024.*Received 1025/],
    ['minThreads', { minThreads: 2 ** 53 }, /"minThreads" option must be an integer from 0 to 1024\. Received 9007199254740992/],
    ['maxQueue', { maxQueue: 2 ** 53 }, /"maxQueue".*Received 9007199254740992/],
    ['maxQueue', { maxQueue: 1e300 }, /"maxQueue"/],
    ['idleTimeout', { idleTimeout: 2 ** 31 }, /"idleTimeout".*Received 2147483648/],
    [
      'resourceLimits.maxOldGenerationSizeMb',
      { resourceLimits: { maxOldGenerationSizeMb: 2 ** 30 } },
      /"resourceLimits\.maxOldGenerationSizeMb".*1048576.*Received 1073741824/,
    ],
    [
      'resourceLimits.maxYoungGenerationSizeMb',
      { resourceLimits: { maxYoungGenerationSizeMb: 2 ** 40 } },
      /"resourceLimits\.maxYoungGenerationSizeMb"/,
    ],
    // Past this, V8 aborts the whole process ("Failed to reserve virtual memory for CodeRange").
    [
      'resourceLimits.codeRangeSizeMb',
      { resourceLimits: { codeRangeSizeMb: 2 ** 40 } },
      /"resourceLimits\.codeRangeSizeMb".*Received 1099511627776/,
    ],
    // Past 256 MB a thread never starts (or thread creation fails with EAGAIN); below 1 MB it cannot load its code.
    [
      'resourceLimits.stackSizeMb',
      { resourceLimits: { stackSizeMb: 1024 } },
      /"resourceLimits\.stackSizeMb" option must be a number of MB from 1 to 256\. Received 1024/,
    ],
    ['resourceLimits.stackSizeMb', { resourceLimits: { stackSizeMb: 0.01 } }, /"resourceLimits\.stackSizeMb".*Received 0\.01/],
  ])('refuses %s out of range with a coded RangeError: %j', (_name, options, message) => {
    const error = constructorError(options)
    expect(error).toBeInstanceOf(RangeError)
    expect(error.code).toBe('ERR_OUT_OF_RANGE')
    expect(error.message).toMatch(message)
    expect(() => Threadpool.validateOptions(options, 'The "threadpool" option')).toThrow(message)
  })

  it('accepts the bounds themselves', () => {
    expect(
      Threadpool.validateOptions({
        minThreads: 1024,
        maxThreads: 1024,
        maxQueue: Number.MAX_SAFE_INTEGER,
        idleTimeout: 2 ** 31 - 1,
        resourceLimits: {
          maxOldGenerationSizeMb: 1_048_576,
          maxYoungGenerationSizeMb: 1_048_576,
          codeRangeSizeMb: 1_048_576,
          stackSizeMb: 256,
        },
      }),
    ).toMatchObject({ maxThreads: 1024, maxQueue: Number.MAX_SAFE_INTEGER })
    expect(Threadpool.validateOptions({ maxQueue: Infinity, idleTimeout: Infinity })).toEqual({ maxQueue: Infinity, idleTimeout: Infinity })
  })

  it('a thread runs with the smallest and the largest stack allowed', async () => {
    expect(await pool({ resourceLimits: { stackSizeMb: 1 } }).run((x: number) => x + 1, [1])).toBe(2)
    expect(await pool({ resourceLimits: { stackSizeMb: 256 } }).run((x: number) => x + 1, [2])).toBe(3)
  })
})
