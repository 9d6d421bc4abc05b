import { AsyncLocalStorage } from 'node:async_hooks'
import { getEventListeners } from 'node:events'
import { CancelledError, ClosedError, createTaskGroup, TaskGroup, TaskGroupError, TimeoutError } from '@taskscope/core'
import { collectUnhandled, deferred, flush, rejectionOf, untilAborted } from '@taskscope/test-support'
import { describe, expect, it } from 'vitest'

describe('TaskGroup', () => {
  describe('G1: createTask starts work at once, or queues it past `limit`', () => {
    it('calls work before createTask returns, with an AbortSignal of its own', async () => {
      await using group = new TaskGroup()
      const signals: AbortSignal[] = []
      const a = group.createTask((signal) => void signals.push(signal))
      const b = group.createTask((signal) => void signals.push(signal))
      expect(signals).toHaveLength(2)
      expect(signals[0]).toBeInstanceOf(AbortSignal)
      expect(signals[0]).not.toBe(signals[1])
      expect(signals[0]).toBe(a.signal)
      expect(signals[1]).toBe(b.signal)
    })

    it('queues past `limit` and starts queued tasks in FIFO order', async () => {
      await using group = new TaskGroup({ limit: 2 })
      const started: number[] = []
      const gates = [0, 1, 2, 3, 4].map(() => deferred())
      const tasks = gates.map((gate, i) =>
        group.createTask(async () => {
          started.push(i)
          await gate.promise
          return i
        }),
      )
      expect(started).toEqual([0, 1])
      expect(tasks.map((t) => t.status)).toEqual(['running', 'running', 'queued', 'queued', 'queued'])
      gates[1]!.resolve()
      await tasks[1]
      await flush()
      expect(started).toEqual([0, 1, 2])
      gates[0]!.resolve()
      await tasks[0]
      await flush()
      expect(started).toEqual([0, 1, 2, 3])
      for (const gate of gates) gate.resolve()
      expect(await Promise.all(tasks)).toEqual([0, 1, 2, 3, 4])
    })

    it('never runs more than `limit` tasks at once', async () => {
      let running = 0
      let peak = 0
      await TaskGroup.run(
        (group) => {
          for (let i = 0; i < 20; i++) {
            group.createTask(async () => {
              peak = Math.max(peak, ++running)
              await flush(1)
              running--
            })
          }
        },
        { limit: 3 },
      )
      expect(peak).toBe(3)
    })

    it('cancels a queued task without ever starting it', async () => {
      await using group = new TaskGroup({ limit: 1 })
      const gate = deferred()
      const first = group.createTask(() => gate.promise)
      let ran = false
      const queued = group.createTask(() => {
        ran = true
      })
      queued.cancel('not needed')
      expect(queued.status).toBe('cancelled')
      const error = await rejectionOf(queued)
      expect(error).toBeInstanceOf(CancelledError)
      expect(error.cause).toBe('not needed')
      gate.resolve()
      await first
      await flush()
      expect(ran).toBe(false)
    })

    it('a slot freed while the group is being cancelled starts no queued task', async () => {
      const group = new TaskGroup({ limit: 1 })
      const bare = group.createTask(new Promise<void>(() => {}))
      let ran = false
      const queued = group.createTask(() => {
        ran = true
      })
      group.cancel()
      await group.close()
      expect([bare.status, queued.status, ran]).toEqual(['cancelled', 'cancelled', false])
    })
  })

  describe('G2: a task signal aborts for every cancellation cause', () => {
    it('when the task itself is cancelled (and only that task)', async () => {
      await using group = new TaskGroup()
      const a = group.createTask(untilAborted)
      const b = group.createTask(async (signal) => {
        await flush()
        return signal.aborted
      })
      a.cancel('stop a')
      expect(a.signal.aborted).toBe(true)
      expect(a.signal.reason).toBeInstanceOf(CancelledError)
      expect(a.signal.reason.cause).toBe('stop a')
      expect(await b).toBe(false)
      await expect(a).rejects.toBeInstanceOf(CancelledError)
      expect(a.status).toBe('cancelled')
      expect(group.signal.aborted).toBe(false)
    })

    it('when the group is cancelled', async () => {
      const group = new TaskGroup()
      const task = group.createTask(untilAborted)
      group.cancel('enough')
      expect(task.signal.reason).toBeInstanceOf(CancelledError)
      expect(task.signal.reason.cause).toBe('enough')
      expect(group.signal.reason).toBe(task.signal.reason)
      await expect(group.close()).resolves.toBeUndefined()
      expect(task.status).toBe('cancelled')
    })

    it('when the parent signal aborts', async () => {
      const parent = new AbortController()
      const group = new TaskGroup({ signal: parent.signal })
      const task = group.createTask(untilAborted)
      parent.abort('client left')
      expect(task.signal.aborted).toBe(true)
      expect(task.signal.reason.cause).toBe('client left')
      const error = await rejectionOf(group.close())
      expect(error).toBeInstanceOf(CancelledError)
      expect(error.cause).toBe('client left')
    })

    it('when the group timeout passes', async () => {
      const group = new TaskGroup({ timeout: 1, name: 'slow' })
      const task = group.createTask(untilAborted)
      const error = await rejectionOf(group.close())
      expect(error).toBeInstanceOf(TimeoutError)
      expect(error.code).toBe('ERR_TIMEOUT')
      expect(error.message).toContain('slow')
      expect(task.signal.reason).toBe(error)
      expect(task.status).toBe('cancelled')
    })

    it('a task that declares no signal parameter still has a signal that aborts', async () => {
      await using group = new TaskGroup()
      const gate = deferred()
      const task = group.createTask(() => gate.promise)
      task.cancel()
      expect(task.signal.aborted).toBe(true)
      gate.resolve()
      await expect(task).resolves.toBeUndefined()
    })
  })

  describe('G3: the first failure cancels the group', () => {
    it('aborts every other task with a CancelledError caused by the failure; queued tasks never start; it is reported exactly once', async () => {
      const group = new TaskGroup({ limit: 2 })
      const boom = new Error('boom')
      const sibling = group.createTask(untilAborted)
      const failing = group.createTask(async () => {
        await flush(1)
        throw boom
      })
      let queuedRan = false
      const queued = group.createTask(() => {
        queuedRan = true
      })
      const error = await rejectionOf(group.close())
      expect(error).toBeInstanceOf(TaskGroupError)
      expect(error.code).toBe('ERR_TASK_GROUP')
      expect(error.errors).toEqual([boom])
      expect(sibling.signal.reason).toBeInstanceOf(CancelledError)
      expect(sibling.signal.reason.cause).toBe(boom)
      expect(sibling.status).toBe('cancelled')
      expect(failing.status).toBe('rejected')
      expect(queued.status).toBe('cancelled')
      expect(queuedRan).toBe(false)
      // The same promise again: no second report.
      expect(group.close()).toBe(group.close())
      await expect(group.close()).rejects.toBe(error)
    })

    it('lists every failure in order, but not cancellations', async () => {
      const group = new TaskGroup()
      const first = new Error('first')
      const second = new Error('second (during cleanup)')
      group.createTask(async (signal) => {
        await untilAborted(signal).catch(() => {})
        throw second
      })
      group.createTask(async () => {
        throw first
      })
      group.createTask(untilAborted)
      const error = await rejectionOf(group.close())
      expect(error.errors).toEqual([first, second])
      expect(error.cause).toBe(first)
    })

    it('a cancellation is never a failure: it does not cancel siblings', async () => {
      await using group = new TaskGroup()
      const cancelledByItself = group.createTask(async () => {
        throw new DOMException('fetch aborted', 'AbortError')
      })
      const sibling = group.createTask(async (signal) => {
        await flush()
        return signal.aborted
      })
      await expect(cancelledByItself).rejects.toBeInstanceOf(CancelledError)
      expect(cancelledByItself.status).toBe('cancelled')
      expect(await sibling).toBe(false)
      expect(group.cancelled).toBe(false)
    })

    it('a synchronous throw is a failure like a rejection', async () => {
      const group = new TaskGroup()
      const boom = new Error('sync')
      const task = group.createTask(() => {
        throw boom
      })
      expect(task.status).toBe('rejected')
      expect(group.cancelled).toBe(true)
      expect((await rejectionOf(group.close())).errors).toEqual([boom])
    })
  })

  describe('G4: a task settles when its work settles', () => {
    it('cleanup in finally has run before close() returns', async () => {
      const group = new TaskGroup()
      const cleanupGate = deferred()
      const events: string[] = []
      group.createTask(async (signal) => {
        try {
          await untilAborted(signal)
        } finally {
          await cleanupGate.promise
          events.push('cleanup done')
        }
      })
      group.cancel()
      const closing = group.close().then(() => events.push('closed'))
      await flush()
      expect(events).toEqual([])
      cleanupGate.resolve()
      await closing
      expect(events).toEqual(['cleanup done', 'closed'])
    })

    it('a bare promise rejects at once on cancellation, and its later rejection is never unhandled', async () => {
      const late = deferred<number>()
      const unhandled = await collectUnhandled(async () => {
        const group = new TaskGroup()
        const task = group.createTask(late.promise)
        expect(task.status).toBe('running')
        group.cancel('stop')
        expect(task.status).toBe('cancelled')
        await expect(task).rejects.toBeInstanceOf(CancelledError)
        await group.close()
        late.reject(new Error('too late'))
      })
      expect(unhandled).toEqual([])
    })

    it('a bare promise that fulfils gives its value', async () => {
      await using group = new TaskGroup()
      expect(await group.createTask(Promise.resolve(42))).toBe(42)
    })
  })

  describe('G5: cancellation outcomes', () => {
    it("work that rejects with a cancellation after its signal aborted ends 'cancelled' with a CancelledError", async () => {
      await using group = new TaskGroup()
      const task = group.createTask(async (signal) => {
        await new Promise((_, reject) =>
          signal.addEventListener('abort', () => reject(new DOMException('aborted', 'AbortError')), { once: true }),
        )
      })
      task.cancel('why')
      const error = await rejectionOf(task)
      expect(task.status).toBe('cancelled')
      expect(error).toBeInstanceOf(CancelledError)
      expect(error.cause).toBe('why')
    })

    it('work that ignores the cancellation and returns a value is fulfilled', async () => {
      await using group = new TaskGroup()
      const task = group.createTask(async (signal) => {
        await flush()
        return signal.aborted ? 'finished anyway' : 'not cancelled'
      })
      task.cancel()
      expect(await task).toBe('finished anyway')
      expect(task.status).toBe('fulfilled')
    })
  })

  describe('G6: close()', () => {
    it('waits for every task, including tasks added while closing, then refuses new ones', async () => {
      const group = new TaskGroup()
      const gate = deferred()
      const order: string[] = []
      group.createTask(async () => {
        await gate.promise
        order.push('first')
        group.createTask(async () => {
          await flush()
          order.push('added during close')
        })
      })
      const closing = group.close()
      expect(group.closed).toBe(false)
      gate.resolve()
      await closing
      expect(order).toEqual(['first', 'added during close'])
      expect(group.closed).toBe(true)
      expect(() => group.createTask(() => 1)).toThrow(ClosedError)
    })

    it('does not report a failure that was observed: `await task` inside `await using` throws the task error itself', async () => {
      const boom = new Error('user lookup failed')
      const run = async (): Promise<void> => {
        await using group = new TaskGroup()
        const user = group.createTask(async () => {
          throw boom
        })
        group.createTask(untilAborted)
        await user
      }
      const error = await rejectionOf(run())
      expect(error).toBe(boom)
    })

    it('a failure handled with .catch() is not reported by close()', async () => {
      const group = new TaskGroup()
      const task = group.createTask(async () => {
        throw new Error('handled')
      })
      const handled = task.catch((e: Error) => e.message)
      await expect(group.close()).resolves.toBeUndefined()
      expect(await handled).toBe('handled')
    })

    it('resolves after group.cancel(), and rejects with the parent reason or the timeout otherwise', async () => {
      const cancelled = new TaskGroup()
      cancelled.createTask(untilAborted)
      cancelled.cancel()
      await expect(cancelled.close()).resolves.toBeUndefined()

      const parent = new AbortController()
      parent.abort(new CancelledError('given'))
      const byParent = new TaskGroup({ signal: parent.signal })
      expect(byParent.cancelled).toBe(true)
      await expect(byParent.close()).rejects.toBe(parent.signal.reason)
    })

    it('is what `await using` and Symbol.asyncDispose call', async () => {
      const group = new TaskGroup()
      expect(group[Symbol.asyncDispose]()).toBe(group.close())
      await group.close()
    })
  })

  describe('G7: after close, and on a cancelled group', () => {
    it('createTask throws ClosedError once close() has finished', async () => {
      const group = new TaskGroup({ name: 'done' })
      await group.close()
      const error = (() => {
        try {
          group.createTask(() => 1)
        } catch (e) {
          return e as ClosedError
        }
      })()
      expect(error).toBeInstanceOf(ClosedError)
      expect(error?.code).toBe('ERR_CLOSED')
      expect(error?.message).toContain('done')
    })

    it('on a cancelled group returns a task that is already cancelled and never runs its work', async () => {
      const group = new TaskGroup()
      group.cancel()
      let ran = false
      const task = group.createTask(() => {
        ran = true
      })
      expect(task.status).toBe('cancelled')
      expect(ran).toBe(false)
      await expect(task).rejects.toBeInstanceOf(CancelledError)
      await group.close()
    })
  })

  describe('G8: no unhandled rejection ever comes out of a group', () => {
    it('not from failures nobody awaited, nor from a group never closed', async () => {
      const unhandled = await collectUnhandled(async () => {
        const neverClosed = new TaskGroup()
        neverClosed.createTask(async () => {
          throw new Error('nobody looks')
        })
        neverClosed.createTask(untilAborted)
        const closed = new TaskGroup()
        closed.createTask(Promise.reject(new Error('bare rejection')))
        await closed.close().catch(() => {})
      })
      expect(unhandled).toEqual([])
    })
  })

  describe('G9: AsyncLocalStorage context', () => {
    it('work runs in the context of the createTask caller, also when queued', async () => {
      const als = new AsyncLocalStorage<string>()
      const seen: Array<[string, string | undefined]> = []
      const group = new TaskGroup({ limit: 1 })
      const gate = deferred()
      als.run('holder', () => group.createTask(() => gate.promise))
      for (const id of ['a', 'b', 'c']) {
        als.run(id, () =>
          group.createTask(async () => {
            seen.push([id, als.getStore()])
            await flush(1)
            seen.push([id, als.getStore()])
          }),
        )
      }
      als.run('releaser', () => gate.resolve())
      await group.close()
      expect(seen).toEqual([
        ['a', 'a'],
        ['a', 'a'],
        ['b', 'b'],
        ['b', 'b'],
        ['c', 'c'],
        ['c', 'c'],
      ])
    })
  })

  describe('G10: cheap', () => {
    it('adds one listener to the parent signal per group, not per task, and removes it on close', async () => {
      const parent = new AbortController()
      const group = new TaskGroup({ signal: parent.signal })
      for (let i = 0; i < 100; i++) group.createTask(async () => i)
      expect(getEventListeners(parent.signal, 'abort')).toHaveLength(1)
      await group.close()
      expect(getEventListeners(parent.signal, 'abort')).toHaveLength(0)
    })

    it('the group signal takes many listeners without a MaxListenersExceededWarning', async () => {
      const warnings: Error[] = []
      const onWarning = (warning: Error): void => void warnings.push(warning)
      process.on('warning', onWarning)
      try {
        await using group = new TaskGroup()
        for (let i = 0; i < 50; i++) group.signal.addEventListener('abort', () => {})
        await flush()
      } finally {
        process.off('warning', onWarning)
      }
      expect(warnings.filter((w) => w.name === 'MaxListenersExceededWarning')).toEqual([])
    })
  })

  describe('options and arguments are validated at the point of misuse', () => {
    it.each([
      [{ limit: 0 }, RangeError, /"limit".*Received 0/],
      [{ limit: 1.5 }, RangeError, /"limit".*1\.5/],
      [{ limit: '2' }, TypeError, /"limit".*'2' \(string\)/],
      [{ timeout: -1 }, RangeError, /"timeout".*-1/],
      [{ timeout: Number.NaN }, TypeError, /"timeout"/],
      [{ signal: 'nope' }, TypeError, /"signal".*AbortSignal/],
      [{ name: 7 }, TypeError, /"name".*7/],
    ])('new TaskGroup(%o) throws', (options, Class, message) => {
      expect(() => new TaskGroup(options as never)).toThrow(Class)
      expect(() => new TaskGroup(options as never)).toThrow(message)
    })

    it('rejects a non-object options bag, and never mutates the caller options', () => {
      expect(() => new TaskGroup(5 as never)).toThrow(TypeError)
      const options = Object.freeze({ limit: 2, timeout: 1000 })
      const group = new TaskGroup(options)
      group.cancel()
      expect(options).toEqual({ limit: 2, timeout: 1000 })
    })

    it('createTask refuses work that is neither a function nor a promise', async () => {
      await using group = new TaskGroup()
      expect(() => group.createTask(42 as never)).toThrow(TypeError)
      expect(() => group.createTask(42 as never)).toThrow(/"work".*42 \(number\)/)
      expect(() => group.createTask(() => 1, { name: 3 as never })).toThrow(/"name"/)
      expect(group.size).toBe(0)
    })
  })

  describe('TaskGroup.run', () => {
    it("returns the callback's value after every task finished", async () => {
      const done: string[] = []
      const value = await TaskGroup.run(async (group) => {
        group.createTask(async () => {
          await flush()
          done.push('background')
        })
        return 'result'
      })
      expect(value).toBe('result')
      expect(done).toEqual(['background'])
    })

    it("cancels the tasks when the callback throws, and throws the callback's error", async () => {
      const boom = new Error('body failed')
      let taskSignal: AbortSignal | undefined
      const error = await rejectionOf(
        TaskGroup.run(async (group) => {
          group.createTask((signal) => {
            taskSignal = signal
            return untilAborted(signal)
          })
          throw boom
        }),
      )
      expect(error).toBe(boom)
      expect(taskSignal?.reason.cause).toBe(boom)
    })

    it('throws a TaskGroupError of the body error and task failures when both fail', async () => {
      const body = new Error('body')
      const child = new Error('child')
      const error = await rejectionOf(
        TaskGroup.run(async (group) => {
          group.createTask(async () => {
            throw child
          })
          await flush()
          throw body
        }),
      )
      expect(error).toBeInstanceOf(TaskGroupError)
      expect(error.errors).toEqual([body, child])
    })

    it('rejects a non-function callback', async () => {
      await expect(TaskGroup.run(5 as never)).rejects.toThrow(TypeError)
    })
  })

  describe('createTaskGroup (the seed’s `async for` form)', () => {
    it('yields one group and closes it after the loop body', async () => {
      const order: string[] = []
      let seen: TaskGroup | undefined
      for await (const group of createTaskGroup({ name: 'loop' })) {
        seen = group
        group.createTask(async () => {
          await flush()
          order.push('task')
        })
        order.push('body')
      }
      order.push('after')
      expect(order).toEqual(['body', 'task', 'after'])
      expect(seen?.closed).toBe(true)
    })

    it('validates its options at the call, not at the first iteration', () => {
      expect(() => createTaskGroup({ limit: -1 })).toThrow(RangeError)
    })

    it('reports task failures from the loop', async () => {
      const boom = new Error('in loop')
      const run = async (): Promise<void> => {
        for await (const group of createTaskGroup()) {
          group.createTask(async () => {
            throw boom
          })
        }
      }
      const error = await rejectionOf(run())
      expect(error).toBeInstanceOf(TaskGroupError)
      expect(error.errors).toEqual([boom])
    })
  })
})
