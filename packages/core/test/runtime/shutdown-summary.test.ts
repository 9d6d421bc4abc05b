// The shutdown summary names the work the shutdown cut short, and warns only then: a background
// loop the app stopped itself while shutting down is a clean shutdown (logged at info).
import http from 'node:http'
import net from 'node:net'
import { setInterval as every } from 'node:timers/promises'
import { cancellationStatus } from '@taskscope/core'
import { deferred, untilAborted } from '@taskscope/test-support'
import { describe, expect, it } from 'vitest'
import { fixture, log, port, runtime, useRuntimeServer } from './server-fixture.ts'

useRuntimeServer()

/** A refresh loop like the analytics example's: ticks until its signal aborts. */
const refreshLoop = async (signal: AbortSignal): Promise<void> => {
  for await (const _ of every(60_000, undefined, { signal })) {
    // refresh
  }
}

describe('the shutdown summary', () => {
  it('is clean (info, nothing unfinished) when the app stops its own loop while shutting down', async () => {
    const loop = runtime.backgroundTasks.add(refreshLoop, { name: 'analytics: refresh loop' })
    const closing = runtime.close({ timeout: Infinity })
    loop.cancel() // the app's own shutdown step (in Fastify, its preClose hook)
    const summary = await closing
    expect(loop.status).toBe('cancelled')
    expect(summary.background).toEqual({ completed: 0, failed: 0, cancelled: 1, abandoned: 0 })
    expect(log.entries.filter((entry) => entry.level === 'warn')).toEqual([])
    expect(summary.unfinished).toEqual([])
    expect(log.entries.at(-1)).toMatchObject({ level: 'info', message: 'shut down cleanly', fields: summary })
  })

  it('names what the shutdown cut short, at warn: requests and background tasks, cancelled or still running', async () => {
    const started = { slow: deferred<void>(), hung: deferred<void>() }
    fixture.handle = async (req, res) => {
      const group = runtime.requestGroup(req, res)
      if (req.url === '/hung') {
        group.createTask(() => new Promise(() => {})) // ignores its signal; the response never ends
        return started.hung.resolve()
      }
      started.slow.resolve()
      try {
        await group.createTask(untilAborted)
      } catch (error) {
        res.statusCode = cancellationStatus(error) ?? 500
        res.end()
      }
    }
    for (const path of ['/slow', '/hung']) http.get({ host: '127.0.0.1', port, path, agent: false }).on('error', () => {})
    await Promise.all([started.slow.promise, started.hung.promise])
    runtime.backgroundTasks.add(refreshLoop, { name: 'refresh loop' }) // never stopped by the app
    runtime.backgroundTasks.add(() => new Promise(() => {}), { name: 'stubborn' }) // ignores its signal
    const own = runtime.backgroundTasks.add(refreshLoop, { name: 'own loop' })

    const closing = runtime.close({ timeout: 200 })
    own.cancel() // stopped by the app: not the shutdown's doing
    const summary = await closing

    expect(summary.unfinished).toHaveLength(4)
    expect(summary.unfinished).toEqual(
      expect.arrayContaining([
        { kind: 'request', name: 'GET /slow', outcome: 'cancelled' },
        { kind: 'request', name: 'GET /hung', outcome: 'abandoned' },
        { kind: 'background', name: 'refresh loop', outcome: 'cancelled' },
        { kind: 'background', name: 'stubborn', outcome: 'abandoned' },
      ]),
    )
    expect(summary.background).toEqual({ completed: 0, failed: 0, cancelled: 2, abandoned: 1 })
    const warning = log.entries.at(-1)!
    expect(warning).toMatchObject({ level: 'warn', fields: summary })
    expect(warning.message).toMatch(/^shut down; unfinished work was cancelled: /)
    for (const name of [
      'request "GET /slow"',
      'request "GET /hung" (still running)',
      'background task "refresh loop"',
      'background task "stubborn" (still running)',
    ]) {
      expect(warning.message).toContain(name)
    }
    expect(warning.message).not.toContain('own loop')
  })
  it('names a request that has no method or URL (a bare IncomingMessage) "request", never "null "', async () => {
    const req = new http.IncomingMessage(new net.Socket())
    expect(req.method).toBe(null)
    const group = runtime.requestGroup(req, new http.ServerResponse(req))
    group.createTask(untilAborted)
    const summary = await runtime.close({ timeout: 50 })
    expect(summary.unfinished).toEqual([expect.objectContaining({ kind: 'request', name: 'request' })])
    const warning = log.entries.at(-1)!
    expect(warning.message).toContain('request "request"')
    expect(warning.message).not.toContain('null')
  })
})
