// A bounded disconnect storm against one started app: GET and POST, keep-alive, fresh connections
// and pipelined pairs, about a third of the requests abandoned by their client mid-request.
//
// Every request touches its group. The expected end of each request is known in advance:
// 'finished' (its response was ended) or 'disconnected' (its client left while the handler still
// waited). The server records how each group's signal really ended, so a request that completed
// but was counted as a disconnect (a false cancellation), or one whose group never ended, shows.
import { once } from 'node:events'
import http from 'node:http'
import net from 'node:net'
import { setImmediate as tick } from 'node:timers/promises'
import type { TaskGroup } from '@taskscope/core'
import { codeOf, type Deferred, deferred, httpRequest, keepAliveAgent, rawHttpRequest, untilAborted } from '@taskscope/test-support'
import type { Framework, Route, RouteContext, StartedApp } from './servers.ts'

type Expected = 'finished' | 'disconnected'

export interface StormFigures {
  framework: string
  requests: number
  aborted: number
  /** Request groups still alive once the storm is over (`stats().requests.active`). */
  groupsLeft: number
  tasksStarted: number
  tasksFinished: number
  /** Completed requests whose group ended as a client disconnect. */
  falseCancellations: number
  /** Abandoned requests whose group did not end as a client disconnect. */
  missedDisconnects: number
  /** Requests whose group signal never ended. */
  neverEnded: number
  /** Log entries at warn or above, and process warnings. */
  warnings: string[]
  /** Heap used after GC, after the storm minus before it (MB); undefined without `--expose-gc`. */
  heapDeltaMB: number | undefined
}

/** The server side: routes whose handlers record how each request's group ended. */
export function stormServer() {
  const outcomes = new Map<string, unknown>()
  const entered = new Map<string, Deferred<void>>()
  const answered = new Map<string, Deferred<void>>()
  const tasks = { started: 0, finished: 0 }
  const handler = async ({ taskGroup, params, body }: RouteContext) => {
    const { mode, id } = params as { mode: 'fast' | 'hang'; id: string }
    const group: TaskGroup = taskGroup
    group.signal.addEventListener('abort', () => outcomes.set(id, codeOf(group.signal.reason)), { once: true })
    const value = await group.createTask(
      async (signal) => {
        tasks.started++
        try {
          if (mode === 'hang') {
            entered.get(id)?.resolve()
            return await untilAborted(signal)
          }
          await tick()
          return { id, body: body ?? null }
        } finally {
          tasks.finished++
        }
      },
      { name: `storm-${id}` },
    )
    answered.get(id)?.resolve()
    return value
  }
  const routes: Route[] = [
    { method: 'GET', path: '/storm/:mode/:id', handler },
    { method: 'POST', path: '/storm/:mode/:id', handler },
  ]
  return { routes, outcomes, entered, answered, tasks }
}

type Server = ReturnType<typeof stormServer>

/** Drives `units` units of work over `lanes` concurrent clients; returns the expected end of every request. */
export async function storm(app: StartedApp, server: Server, units: number, lanes: number): Promise<Map<string, Expected>> {
  const expected = new Map<string, Expected>()
  let next = 0
  const id = (): string => String(next++)
  // Clients end every socket themselves: none is registered for cleanup(), which would keep
  // thousands of them (and what they received) alive and spoil the heap figure.
  const fresh = new http.Agent({ keepAlive: false, maxSockets: Infinity })
  const path = (mode: 'fast' | 'hang', key: string): string => `/storm/${mode}/${key}`
  const body = (key: string) => ({ key, pad: 'p'.repeat(32) })

  // One unit of each kind, in turn: 8 requests, 3 of them abandoned mid-request.
  const kinds: Array<(agent: http.Agent) => Promise<void>> = [
    async (agent) => {
      const key = id() // keep-alive GET, completes
      expected.set(key, 'finished')
      await expectOk(httpRequest(app.port, { path: path('fast', key), agent }).response)
    },
    async (agent) => {
      const key = id() // keep-alive POST with a body, completes
      expected.set(key, 'finished')
      await expectOk(httpRequest(app.port, { method: 'POST', path: path('fast', key), body: body(key), agent }).response)
    },
    async (agent) => {
      const key = id() // keep-alive GET, the client leaves mid-request (its socket goes with it)
      expected.set(key, 'disconnected')
      const inside = watch(server.entered, key)
      const call = httpRequest(app.port, { path: path('hang', key), agent })
      await inside
      call.req.destroy()
    },
    async () => {
      const key = id() // fresh connection, POST whose body was read, the client leaves mid-request
      expected.set(key, 'disconnected')
      const inside = watch(server.entered, key)
      const call = httpRequest(app.port, { method: 'POST', path: path('hang', key), body: body(key), agent: fresh })
      await inside
      call.req.destroy()
    },
    async () => {
      // Pipelined: a slow GET, then a POST answered while queued behind it; the client leaves.
      const [slow, queued] = [id(), id()]
      expected.set(slow, 'disconnected').set(queued, 'finished')
      const inside = [watch(server.entered, slow), watch(server.answered, queued)]
      const conn = await pipeline(app.port, [
        rawHttpRequest({ path: path('hang', slow) }),
        rawHttpRequest({ method: 'POST', path: path('fast', queued), body: body(queued) }),
      ])
      await Promise.all(inside)
      await expectOk(httpRequest(app.port, { path: '/__ping', agent: fresh }).response) // a round trip: the queued response has been ended by now
      conn.destroy()
      await once(conn, 'close')
    },
    async () => {
      // Pipelined: two GETs, both answered, then the client closes.
      const [a, b] = [id(), id()]
      expected.set(a, 'finished').set(b, 'finished')
      const conn = await pipeline(app.port, [rawHttpRequest({ path: path('fast', a) }), rawHttpRequest({ path: path('fast', b) })])
      let text = ''
      for await (const chunk of conn) {
        text += chunk
        if ((text.match(/HTTP\/1\.1 200/g) ?? []).length === 2 && text.includes(`"id":"${b}"`)) break // destroys the socket
      }
      if (!conn.destroyed) throw new Error(`pipelined answers incomplete: ${text}`)
    },
  ]

  let unit = 0
  await Promise.all(
    Array.from({ length: lanes }, async () => {
      const agent = keepAliveAgent()
      while (unit < units) await kinds[unit++ % kinds.length]!(agent)
      agent.destroy()
    }),
  )
  fresh.destroy()
  return expected
}

/** Compares what happened with what was expected once every client is done. */
export function tally(expected: Map<string, Expected>, server: Server) {
  let falseCancellations = 0
  let missedDisconnects = 0
  let neverEnded = 0
  for (const [key, want] of expected) {
    const got = server.outcomes.get(key)
    if (got === undefined) neverEnded++
    else if (want === 'finished' && got === 'ERR_CLIENT_CLOSED_REQUEST') falseCancellations++
    else if (want === 'disconnected' && got !== 'ERR_CLIENT_CLOSED_REQUEST') missedDisconnects++
  }
  const aborted = [...expected.values()].filter((want) => want === 'disconnected').length
  return { requests: expected.size, aborted, falseCancellations, missedDisconnects, neverEnded }
}

/** Heap used after a full GC (MB), if the process runs with `--expose-gc`. */
export async function heapAfterGc(): Promise<number | undefined> {
  const gc = (globalThis as { gc?: () => void }).gc
  if (gc === undefined) return undefined
  for (let i = 0; i < 3; i++) {
    gc()
    await tick()
  }
  return process.memoryUsage().heapUsed / 2 ** 20
}

async function expectOk(response: Promise<{ status: number; body: string }>): Promise<void> {
  const { status, body } = await response
  if (status !== 200) throw new Error(`storm request answered ${status}: ${body}`)
}

/** A raw connection that has sent `requests` back to back (pipelined). */
async function pipeline(port: number, requests: string[]): Promise<net.Socket> {
  const socket = net.connect({ port, host: '127.0.0.1' })
  socket.on('error', () => {}) // ECONNRESET after our own destroy() is expected
  await once(socket, 'connect')
  socket.setEncoding('utf8')
  socket.write(requests.join(''))
  return socket
}

/** A deferred registered under `key`, resolved by the handler; forgotten once resolved. */
function watch(map: Map<string, Deferred<void>>, key: string): Promise<void> {
  const d = deferred()
  map.set(key, d)
  return d.promise.finally(() => map.delete(key))
}

export type { Framework }
