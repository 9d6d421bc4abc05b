// TaskGroup.run against the reference semantics: cases ported from CPython's asyncio TaskGroup tests
// (Lib/test/test_asyncio/test_taskgroups.py) and anyio's task group tests, adapted to promises and
// AbortSignals. A Python task cancellation is a signal abort here; `asyncio.sleep(n)` is a wait that
// rejects when its signal aborts (timers/promises, like fetch, rejects with an AbortError).
import { setTimeout as sleep } from 'node:timers/promises'
import { CancelledError, TaskGroup, TaskGroupError, TimeoutError } from '@taskscope/core'
import { deferred, flush, rejectionOf, untilAborted } from '@taskscope/test-support'
import { describe, expect, it } from 'vitest'

/** Never settles by itself: rejects with an AbortError (a cancellation) when `signal` aborts. */
const forever = (signal: AbortSignal): Promise<void> => sleep(1_000_000, undefined, { signal })

/** Fails once `gate` resolves, unless cancelled first. */
const failAfter = (gate: Promise<unknown>, error: Error) => async (): Promise<never> => {
  await gate
  throw error
}

describe('TaskGroup.run: a cancellation is never reported as an error', () => {
  it('a task fails while the body awaits something tied to group.signal: TaskGroupError of that failure only (asyncio test_taskgroup_04)', async () => {
    const boom = new Error('boom')
    const gate = deferred()
    let siblingCancelled = false
    let bodyCancelled = false
    const error = await rejectionOf(
      TaskGroup.run(async (group) => {
        group.createTask(failAfter(gate.promise, boom))
        group.createTask(async (signal) => {
          try {
            await forever(signal)
          } catch (e) {
            siblingCancelled = true
            throw e
          }
        })
        gate.resolve()
        try {
          await untilAborted(group.signal)
        } catch (e) {
          bodyCancelled = true
          throw e
        }
      }),
    )
    expect(error).toBeInstanceOf(TaskGroupError)
    expect(error.errors).toEqual([boom])
    expect(siblingCancelled).toBe(true)
    expect(bodyCancelled).toBe(true)
  })

  it('several tasks fail while the body sleeps on the group signal: only their failures, in order (asyncio test_cancel_children_on_child_error)', async () => {
    const errors = [new Error('a'), new Error('b'), new Error('c')]
    const gate = deferred()
    const error = await rejectionOf(
      TaskGroup.run(async (group) => {
        // Each fails in its cleanup too, so all three fail even though the first cancels the others.
        for (const e of errors) {
          group.createTask(async (signal) => {
            try {
              await Promise.race([gate.promise, forever(signal)])
            } finally {
              // biome-ignore lint/correctness/noUnsafeFinally: asyncio's test raises from finally, on purpose
              throw e
            }
          })
        }
        gate.resolve()
        await forever(group.signal)
      }),
    )
    expect(error).toBeInstanceOf(TaskGroupError)
    expect(error.errors).toEqual(errors)
  })

  it('a failing task cancels the body; the body sees an AbortError and its sleep never completes (anyio test_failing_child_task_cancels_host)', async () => {
    const foo = new Error('foo')
    let sleepCompleted = false
    const error = await rejectionOf(
      TaskGroup.run(async (group) => {
        group.createTask(async () => {
          await flush(1)
          throw foo
        })
        await sleep(500, undefined, { signal: group.signal })
        sleepCompleted = true
      }),
    )
    expect(error).toBeInstanceOf(TaskGroupError)
    expect(error.errors).toEqual([foo])
    expect(sleepCompleted).toBe(false)
  })

  it('group.cancel() then the body awaits and rejects: resolves undefined (anyio test_escaping_cancelled_exception)', async () => {
    const result = await TaskGroup.run(async (group) => {
      group.createTask(forever)
      group.cancel()
      await sleep(0, undefined, { signal: group.signal })
      return 'unreachable'
    })
    expect(result).toBeUndefined()
  })

  it('group.cancel() from a task while the body awaits the group signal: resolves undefined', async () => {
    let started = false
    const result = await TaskGroup.run(async (group) => {
      group.createTask(async () => {
        await flush(1)
        group.cancel('enough')
      })
      group.createTask(async (signal) => {
        started = true
        await forever(signal)
      })
      await untilAborted(group.signal)
    })
    expect(result).toBeUndefined()
    expect(started).toBe(true)
  })

  it('a task fails after group.cancel(): its failure is still reported', async () => {
    const cleanup = new Error('cleanup failed')
    const error = await rejectionOf(
      TaskGroup.run(async (group) => {
        group.createTask(async (signal) => {
          try {
            await forever(signal)
          } finally {
            // biome-ignore lint/correctness/noUnsafeFinally: asyncio's test raises from finally, on purpose
            throw cleanup
          }
        })
        group.cancel()
        await forever(group.signal)
      }),
    )
    expect(error).toBeInstanceOf(TaskGroupError)
    expect(error.errors).toEqual([cleanup])
  })

  it('a body that returns normally returns its value, cancelled or not', async () => {
    expect(
      await TaskGroup.run(async (group) => {
        group.createTask(forever)
        group.cancel()
        return 'kept'
      }),
    ).toBe('kept')
    const parent = new AbortController()
    expect(
      await TaskGroup.run(
        async (group) => {
          parent.abort('stop')
          await forever(group.signal).catch(() => {})
          return 'also kept'
        },
        { signal: parent.signal },
      ),
    ).toBe('also kept')
  })

  it('the parent signal aborts while the body and its tasks wait: rejects with that cancellation, every task saw it (asyncio test_cancellation, test_taskgroup_07)', async () => {
    const parent = new AbortController()
    let cancelled = 0
    const promise = TaskGroup.run(
      async (group) => {
        for (let i = 0; i < 5; i++) {
          group.createTask(async (signal) => {
            try {
              await forever(signal)
            } catch (e) {
              cancelled++
              throw e
            }
          })
        }
        try {
          await forever(parent.signal)
        } catch (e) {
          cancelled += 10
          throw e
        }
      },
      { signal: parent.signal },
    )
    await flush()
    parent.abort('test')
    const error = await rejectionOf(promise)
    expect(error).toBeInstanceOf(CancelledError)
    expect(error.cause).toBe('test')
    expect(cancelled).toBe(15)
  })

  it('the parent signal aborts while tasks are about to fail: rejects with the cancellation (asyncio test_cancellation_in_body)', async () => {
    const parent = new AbortController()
    const promise = TaskGroup.run(
      async (group) => {
        for (let i = 0; i < 5; i++) group.createTask(async (signal) => forever(signal).then(() => Promise.reject(new Error('late'))))
        await forever(group.signal)
      },
      { signal: parent.signal },
    )
    await flush()
    parent.abort('test')
    const error = await rejectionOf(promise)
    expect(error).toBeInstanceOf(CancelledError)
    expect(error.cause).toBe('test')
  })

  it('the body takes its time to clean up after the parent cancelled it, then rethrows: rejects with the cancellation (asyncio test_taskgroup_15)', async () => {
    const parent = new AbortController()
    const promise = TaskGroup.run(
      async (group) => {
        group.createTask(forever)
        try {
          await forever(group.signal)
        } catch (e) {
          await flush(3)
          throw e
        }
      },
      { signal: parent.signal },
    )
    await flush()
    parent.abort('test')
    expect(await rejectionOf(promise)).toMatchObject({ name: 'CancelledError', cause: 'test' })
  })

  it('the parent cancels while run waits for tasks after the body returned: rejects with the cancellation (asyncio test_taskgroup_22)', async () => {
    const parent = new AbortController()
    const promise = TaskGroup.run(
      (group) => {
        group.createTask(forever)
        group.createTask(forever)
      },
      { signal: parent.signal },
    )
    await flush()
    parent.abort('test')
    expect(await rejectionOf(promise)).toMatchObject({ name: 'CancelledError', cause: 'test' })
  })

  it('the timeout passes while the body awaits: rejects with the TimeoutError (anyio test_fail_after)', async () => {
    const error = await rejectionOf(TaskGroup.run((group) => forever(group.signal), { timeout: 1 }))
    expect(error).toBeInstanceOf(TimeoutError)
  })

  it('the body catches the cancellation and throws a real error: that error is thrown (asyncio test_taskgroup_18)', async () => {
    const parent = new AbortController()
    const mine = new Error('MyExc')
    const promise = TaskGroup.run(
      async (group) => {
        try {
          await forever(group.signal)
        } catch {
          throw mine
        }
      },
      { signal: parent.signal },
    )
    await flush()
    parent.abort()
    expect(await rejectionOf(promise)).toBe(mine)
  })

  it('a task fails and the body fails in its cleanup: both, body first (asyncio test_taskgroup_19, anyio test_multi_error_host)', async () => {
    const zero = new Error('ZeroDivisionError')
    const mine = new Error('MyExc')
    const error = await rejectionOf(
      TaskGroup.run(async (group) => {
        group.createTask(async () => {
          await flush(1)
          throw zero
        })
        try {
          await forever(group.signal)
        } finally {
          // biome-ignore lint/correctness/noUnsafeFinally: asyncio's test raises from finally, on purpose
          throw mine
        }
      }),
    )
    expect(error).toBeInstanceOf(TaskGroupError)
    expect(error.errors).toEqual([mine, zero])
  })

  it('tasks that spawn tasks, then one fails: that failure only (asyncio test_taskgroup_25)', async () => {
    let hydras = 0
    const zero = new Error('ZeroDivisionError')
    const error = await rejectionOf(
      TaskGroup.run(async (group) => {
        const hydra = async (signal: AbortSignal): Promise<void> => {
          hydras++
          await sleep(0, undefined, { signal })
          group.createTask(hydra)
          group.createTask(hydra)
        }
        group.createTask(hydra)
        group.createTask(async (signal) => {
          while (hydras < 10) await sleep(0, undefined, { signal })
          throw zero
        })
        await forever(group.signal)
      }),
    )
    expect(error).toBeInstanceOf(TaskGroupError)
    expect(error.errors).toEqual([zero])
    expect(hydras).toBeGreaterThanOrEqual(10)
  })

  it("a cancellation the body throws while its group is not cancelled is the body's own: the tasks are cancelled and run rejects with it", async () => {
    const own = new CancelledError('my own deadline')
    let taskReason: unknown
    const error = await rejectionOf(
      TaskGroup.run(async (group) => {
        group.createTask(async (signal) => {
          await forever(signal).catch(() => (taskReason = signal.reason))
        })
        await flush(1)
        throw own
      }),
    )
    expect(error).toBe(own)
    expect(taskReason).toBe(own)
  })

  it("a platform AbortError of the body's own (not the group's) rejects run with it", async () => {
    const controller = new AbortController()
    const promise = TaskGroup.run(async (group) => {
      group.createTask(forever)
      await forever(controller.signal)
    })
    await flush()
    controller.abort()
    const error = await rejectionOf(promise)
    expect(error.name).toBe('AbortError')
  })
})

describe('TaskGroup.run: nested groups report the root failure once', () => {
  it('the outer task fails while the inner body waits: TaskGroupError of that one failure, no cancellation in it (asyncio test_taskgroup_13)', async () => {
    const root = new Error('ValueError 0.1')
    const gate = deferred()
    let innerTaskCancelled = false
    const error = await rejectionOf(
      TaskGroup.run(async (outer) => {
        outer.createTask(failAfter(gate.promise, root))
        await TaskGroup.run(
          async (inner) => {
            inner.createTask(async (signal) => {
              await forever(signal).catch((e) => {
                innerTaskCancelled = true
                throw e
              })
              throw new Error('ValueError 10')
            })
            gate.resolve()
            await forever(inner.signal)
          },
          { signal: outer.signal },
        )
      }),
    )
    expect(error).toBeInstanceOf(TaskGroupError)
    expect(error.errors).toEqual([root])
    expect(innerTaskCancelled).toBe(true)
  })

  it('the outer task fails while the inner group only waits for its tasks: one root failure (asyncio test_taskgroup_13, body returned)', async () => {
    const root = new Error('root')
    const error = await rejectionOf(
      TaskGroup.run(async (outer) => {
        outer.createTask(async () => {
          await flush(1)
          throw root
        })
        await TaskGroup.run((inner) => void inner.createTask(forever), { signal: outer.signal })
      }),
    )
    expect(error).toBeInstanceOf(TaskGroupError)
    expect(error.errors).toEqual([root])
  })

  it('the inner task fails: the outer rejects with the inner TaskGroupError holding that one failure (asyncio test_taskgroup_14)', async () => {
    const root = new Error('inner root')
    let outerTaskCancelled = false
    const error = await rejectionOf(
      TaskGroup.run(async (outer) => {
        outer.createTask(async (signal) => {
          await forever(signal).catch((e) => {
            outerTaskCancelled = true
            throw e
          })
        })
        await TaskGroup.run(
          (inner) => {
            inner.createTask(async () => {
              await flush(1)
              throw root
            })
          },
          { signal: outer.signal },
        )
      }),
    )
    expect(error).toBeInstanceOf(TaskGroupError)
    expect(error.errors).toEqual([root])
    expect(outerTaskCancelled).toBe(true)
  })

  it('three levels deep, the outermost task fails: one root failure', async () => {
    const root = new Error('root')
    const gate = deferred()
    const error = await rejectionOf(
      TaskGroup.run(async (a) => {
        a.createTask(failAfter(gate.promise, root))
        await TaskGroup.run(
          (b) =>
            TaskGroup.run(
              async (c) => {
                c.createTask(forever)
                gate.resolve()
                await forever(c.signal)
              },
              { signal: b.signal },
            ),
          { signal: a.signal },
        )
      }),
    )
    expect(error).toBeInstanceOf(TaskGroupError)
    expect(error.errors).toEqual([root])
  })

  it('the parent of nested groups aborts: the outermost rejects with the cancellation (asyncio test_taskgroup_11, test_taskgroup_12)', async () => {
    const parent = new AbortController()
    const promise = TaskGroup.run(
      async (outer) => {
        outer.createTask(forever)
        await TaskGroup.run(
          async (inner) => {
            for (let i = 0; i < 5; i++) inner.createTask(forever)
            await forever(inner.signal)
          },
          { signal: outer.signal },
        )
      },
      { signal: parent.signal },
    )
    await flush()
    parent.abort('stop')
    const error = await rejectionOf(promise)
    expect(error).toBeInstanceOf(CancelledError)
    expect(error.cause).toBe('stop')
  })
})

describe('close() agrees with TaskGroup.run', () => {
  it('a task fails while the body awaits the group signal and swallows it: close() rejects with that failure only', async () => {
    const boom = new Error('boom')
    const group = new TaskGroup()
    group.createTask(async () => {
      await flush(1)
      throw boom
    })
    group.createTask(forever)
    await untilAborted(group.signal).catch(() => {})
    const error = await rejectionOf(group.close())
    expect(error).toBeInstanceOf(TaskGroupError)
    expect(error.errors).toEqual([boom])
  })

  it('nested groups closed by hand: the inner close rejects with the cancellation, the outer with the root failure only', async () => {
    const root = new Error('root')
    const outer = new TaskGroup()
    outer.createTask(async () => {
      await flush(1)
      throw root
    })
    const inner = new TaskGroup({ signal: outer.signal })
    inner.createTask(forever)
    const innerError = await rejectionOf(inner.close())
    expect(innerError).toBeInstanceOf(CancelledError)
    expect(innerError.cause).toBe(root)
    const outerError = await rejectionOf(outer.close())
    expect(outerError).toBeInstanceOf(TaskGroupError)
    expect(outerError.errors).toEqual([root])
  })
})
