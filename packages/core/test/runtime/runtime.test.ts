// createRuntime against real node:http servers and real client sockets: options, request groups.
import { once } from 'node:events'
import http from 'node:http'
import {
  BackgroundTasks,
  ClientDisconnectedError,
  createRuntime,
  RequestFinishedError,
  TaskGroup,
  TaskGroupError,
  Threadpool,
} from '@taskscope/core'
import { deferred, memoryLogger, untilAborted } from '@taskscope/test-support'
import { describe, expect, it, vi } from 'vitest'
import { connect, fixture, get, log, port, runtime, server, useRuntimeServer } from './server-fixture.ts'

useRuntimeServer()

describe('createRuntime options', () => {
  it('validates every option up front, naming it and showing the value', () => {
    const cases: Array<[unknown, string, RegExp]> = [
      ['nope', 'ERR_INVALID_ARG_TYPE', /runtime options must be an object/],
      [
        { shutdownTimeout: '5s' },
        'ERR_INVALID_ARG_TYPE',
        /"shutdownTimeout" option must be a number of milliseconds\. Received '5s' \(string\)/,
      ],
      [{ shutdownTimeout: -1 }, 'ERR_OUT_OF_RANGE', /"shutdownTimeout" option .* Received -1 \(number\)/],
      [{ logger: {} }, 'ERR_INVALID_ARG_TYPE', /"logger" option must be a logger with info, warn and error methods/],
      [{ logger: { info() {}, warn() {}, error() {}, debug: 1 } }, 'ERR_INVALID_ARG_TYPE', /"logger" option/],
      [{ threadpool: 42 }, 'ERR_INVALID_ARG_TYPE', /"threadpool" option must be an object\. Received 42 \(number\)/],
      [{ threadpool: { maxThreads: 0 } }, 'ERR_OUT_OF_RANGE', /"maxThreads" option .* Received 0 \(number\)/],
      [{ backgroundTasks: 42 }, 'ERR_INVALID_ARG_TYPE', /"backgroundTasks" option must be an object\. Received 42/],
      [{ backgroundTasks: { onError: 'log' } }, 'ERR_INVALID_ARG_TYPE', /"onError" option must be a function/],
    ]
    for (const [options, code, message] of cases) {
      let error: any
      try {
        createRuntime(options as never)
      } catch (caught) {
        error = caught
      }
      expect(error, JSON.stringify(options)).toBeDefined()
      expect(error.code, String(error.message)).toBe(code)
      expect(error.message).toMatch(message)
    }
  })

  it('never modifies the caller options, and accepts Infinity for shutdownTimeout', async () => {
    const options = Object.freeze({
      shutdownTimeout: Infinity,
      threadpool: Object.freeze({ maxThreads: 2 }),
      backgroundTasks: Object.freeze({}),
    })
    const other = createRuntime(options)
    expect(other.shutdownTimeout).toBe(Infinity)
    expect(options).toEqual({ shutdownTimeout: Infinity, threadpool: { maxThreads: 2 }, backgroundTasks: {} })
    await other.close()
  })

  it('defaults: a 5 s shutdown timeout, a pool that only starts on first use, its own background registry', async () => {
    const other = createRuntime()
    expect(other.shutdownTimeout).toBe(5000)
    expect(other.stats()).toMatchObject({
      requests: { active: 0 },
      background: { active: 0 },
      pool: { threads: 0, completed: 0 },
      draining: false,
    })
    expect(other.backgroundTasks).toBeInstanceOf(BackgroundTasks)
    expect((await other.close()).pool).toBe('not-started')
  })

  it('uses a BackgroundTasks or a Threadpool it is given, and leaves the pool open', async () => {
    const backgroundTasks = new BackgroundTasks()
    const threadpool = new Threadpool({ maxThreads: 1 })
    try {
      const other = createRuntime({ backgroundTasks, threadpool })
      expect(other.backgroundTasks).toBe(backgroundTasks)
      expect(other.threadpool).toBe(threadpool)
      expect(await threadpool.run((a: number) => a, [1])).toBe(1)
      expect(other.stats().pool).toMatchObject({ completed: 1 })
      const summary = await other.close()
      expect(summary.pool).toBe('external')
      expect(backgroundTasks.closed).toBe(true)
      expect(await threadpool.run((a: number, b: number) => a + b, [1, 2])).toBe(3)
    } finally {
      await threadpool.close()
    }
  })

  it('logs background failures at error by default, with the task', async () => {
    const failed = log.next('error')
    const boom = new Error('boom')
    runtime.backgroundTasks.add(
      async () => {
        throw boom
      },
      { name: 'reindex' },
    )
    const entry = await failed
    expect(entry.fields).toMatchObject({ err: boom, task: { name: 'reindex' } })
  })

  it('installs no process signal handlers', async () => {
    const before = ['SIGTERM', 'SIGINT'].map((signal) => process.listenerCount(signal))
    const other = createRuntime()
    await other.close()
    expect(['SIGTERM', 'SIGINT'].map((signal) => process.listenerCount(signal))).toEqual(before)
  })
})

describe('runtime.requestGroup', () => {
  it('costs nothing until used, then returns the same group for the request', async () => {
    const seen = deferred<TaskGroup[]>()
    fixture.handle = (req, res) => {
      expect(runtime.stats().requests.active).toBe(0)
      const groups = [runtime.requestGroup(req, res), runtime.requestGroup(req, res)]
      expect(runtime.stats().requests.active).toBe(1)
      seen.resolve(groups)
      res.end('ok')
    }
    await get('/')
    const [a, b] = await seen.promise
    expect(a).toBeInstanceOf(TaskGroup)
    expect(a).toBe(b)
    await vi.waitFor(() => expect(runtime.stats().requests.active).toBe(0))
  })

  it('cancels the group with ClientDisconnectedError when the client goes away, logged at info', async () => {
    const started = deferred<TaskGroup>()
    fixture.handle = (req, res) => {
      const group = runtime.requestGroup(req, res)
      group.createTask(untilAborted)
      started.resolve(group)
    }
    const socket = await connect()
    socket.write('POST / HTTP/1.1\r\nHost: t\r\nContent-Length: 2\r\n\r\n{}')
    const group = await started.promise
    const info = log.next('info')
    socket.destroy()
    await once(group.signal, 'abort')
    expect(group.signal.reason).toBeInstanceOf(ClientDisconnectedError)
    expect((await info).fields).toMatchObject({ code: 'ERR_CLIENT_CLOSED_REQUEST', tasks: 1 })
    await vi.waitFor(() => expect(runtime.stats().requests.active).toBe(0))
    expect(log.entries.filter((entry) => entry.level === 'error' || entry.level === 'warn')).toEqual([])
  })

  it('replays a disconnect when the group is created after the client left', async () => {
    const created = deferred<TaskGroup>()
    fixture.handle = async (req, res) => {
      await once(res, 'close')
      created.resolve(runtime.requestGroup(req, res))
    }
    const socket = await connect()
    socket.write('GET / HTTP/1.1\r\nHost: t\r\n\r\n')
    await once(server, 'request')
    socket.destroy()
    const group = await created.promise
    expect(group.cancelled).toBe(true)
    expect(group.signal.reason).toBeInstanceOf(ClientDisconnectedError)
  })

  it('never reports a completed response as a disconnect: the signal ends with RequestFinishedError', async () => {
    const done = deferred<TaskGroup>()
    fixture.handle = async (req, res) => {
      const group = runtime.requestGroup(req, res)
      for await (const _ of req); // a POST body, read in full
      const value = await group.createTask(async () => 'value')
      res.end(value)
      done.resolve(group)
    }
    const request = http.request(`http://127.0.0.1:${port}/`, { method: 'POST', agent: false })
    request.end('{"a":1}')
    const [response] = (await once(request, 'response')) as [http.IncomingMessage]
    response.resume()
    const group = await done.promise
    if (!group.cancelled) await once(group.signal, 'abort')
    expect(group.signal.reason).toBeInstanceOf(RequestFinishedError)
    expect(log.entries.filter((entry) => entry.fields.code === 'ERR_CLIENT_CLOSED_REQUEST')).toEqual([])
  })

  it('closes a group with nothing running as soon as the response completes; its signal, read later, ends with RequestFinishedError', async () => {
    const done = deferred<{ group: TaskGroup; active: number }>()
    fixture.handle = async (req, res) => {
      const group = runtime.requestGroup(req, res)
      expect(await group.createTask(async () => 'value')).toBe('value')
      res.once('close', () => done.resolve({ group, active: runtime.stats().requests.active }))
      res.end('ok')
    }
    expect((await get('/')).body).toBe('ok')
    const { group, active } = await done.promise
    // Closed and off the books within the response's own 'close': no promise turn needed.
    expect(active).toBe(0)
    expect(group.closed).toBe(true)
    expect(group.cancelled).toBe(true)
    expect(() => group.createTask(async () => 1)).toThrow(expect.objectContaining({ code: 'ERR_CLOSED' }))
    await group.close()
    expect(group.signal.aborted).toBe(true)
    expect(group.signal.reason).toBeInstanceOf(RequestFinishedError)
    expect(runtime.stats().requests.active).toBe(0)
  })

  it('cancels tasks still running when the response completes with RequestFinishedError, logged at warn', async () => {
    const straggler = deferred<unknown>()
    fixture.handle = (req, res) => {
      const group = runtime.requestGroup(req, res)
      group.createTask(untilAborted).then(undefined, straggler.resolve)
      res.end('early')
    }
    const warned = log.next('warn')
    expect((await get('/')).body).toBe('early')
    const reason = await straggler.promise
    expect(reason).toBeInstanceOf(RequestFinishedError)
    expect((await warned).fields).toMatchObject({ tasks: 1 })
  })

  it('logs failures nobody observed at error through the request logger', async () => {
    const requestLog = memoryLogger()
    const boom = new Error('boom')
    fixture.handle = (req, res) => {
      const group = runtime.requestGroup(req, res, { logger: requestLog.logger })
      group.createTask(async () => {
        throw boom
      })
      res.end('ok')
    }
    const failed = requestLog.next('error')
    await get('/')
    const entry = await failed
    expect(entry.fields.err).toBeInstanceOf(TaskGroupError)
    expect((entry.fields.err as TaskGroupError).errors).toEqual([boom])
    expect(log.entries.filter((e) => e.level === 'error')).toEqual([])
  })

  it('hands unobserved failures to onError instead, when given', async () => {
    const seen = deferred<unknown>()
    fixture.handle = (req, res) => {
      runtime.requestGroup(req, res, { onError: seen.resolve }).createTask(() => Promise.reject(new Error('x')))
      res.end()
    }
    await get('/')
    expect(await seen.promise).toBeInstanceOf(TaskGroupError)
  })
})
