// A node-postgres client whose queries, made under a currentSignal(), are cancelled on the server
// when that signal aborts. The guard against the classic race of PostgreSQL's cancel requests
// (one that arrives after its query ended cancels whatever the backend runs next) lives here:
//
// - a cancel request is sent only while the query is the one the backend runs (it was submitted
//   and has not ended);
// - the query settles only once it has ended AND the cancel connection has closed (the server
//   has signalled the backend by then), and every query handed to this client meanwhile waits for
//   that too, so nothing else can be on the backend when the signal lands.
import { currentSignal } from '@taskscope/core'
import { prepareCancelRequest, sendCancelRequest } from './cancel-request.js'
import { cancellationOf } from './cancellation.js'
import { type QueryCancelMessage, queryCancelChannel, shortText } from './query-cancel-channel.js'

/** A node-postgres `Client` as far as this module needs it. */
export interface PgClient {
  query(...args: unknown[]): unknown
  readonly processID: number | null
  readonly secretKey: number | null
  readonly host: string
  readonly port: number
  readonly pipeline?: boolean
  on(event: 'error', listener: (error: Error) => void): unknown
  once(event: 'error', listener: (error: Error) => void): unknown
  removeListener(event: 'error', listener: (error: Error) => void): unknown
}

/** node-postgres's Query: built with the same arguments as `client.query()`, handed to it as a submittable. */
interface PgQuery {
  submit(connection: unknown): Error | undefined
  /** The SQL and the name, as node-postgres read them from the config. */
  readonly text?: unknown
  readonly name?: unknown
}
type QueryConstructor = new (config: unknown, values: unknown, callback: (error: Error | null, result: unknown) => void) => PgQuery

type Callback = (error: Error | null | undefined, result?: unknown) => void

const kGuard = Symbol('taskscope.pg.clientGuard')

/** The per-client state: when set, `tail` settles once every guarded query handed over so far is done. */
interface Guard {
  tail: Promise<void> | undefined
  /** When a query of this client was first submitted (its backend was running by then), per backend. */
  backendSince: number | undefined
  backendPid: number | null
  readonly Query: QueryConstructor
  readonly query: (...args: unknown[]) => unknown
}

type Guarded = PgClient & { [kGuard]?: Guard }

/** Whether this client's queries are already cancellable. */
export function isGuarded(client: object): boolean {
  return Object.hasOwn(client, kGuard)
}

/** Emits a warning for a cancel request that could not be delivered (the query then ran to its end). */
function warnUndelivered(error: Error): void {
  process.emitWarning(`A PostgreSQL cancel request could not be delivered: ${error.message}`, {
    type: 'TaskscopePgWarning',
    code: 'TASKSCOPE_PG_CANCEL_FAILED',
  })
}

/** Adds one slot at the end of the client's chain; `done()` frees it. */
function enqueue(guard: Guard): { previous: Promise<void> | undefined; done(): void } {
  const previous = guard.tail
  let done!: () => void
  const mine = new Promise<void>((resolve) => (done = resolve))
  guard.tail = mine
  return {
    previous,
    done() {
      done()
      if (guard.tail === mine) guard.tail = undefined
    },
  }
}

/**
 * Runs one query made under `signal`: handed to node-postgres once the client's chain is free,
 * cancelled on the server if `signal` aborts while the backend runs it. `callback` gets the result,
 * the query's own error, or the scope's cancellation.
 */
function runGuarded(client: Guarded, guard: Guard, signal: AbortSignal, config: unknown, values: unknown, callback: Callback): void {
  const slot = enqueue(guard)
  let settled = false
  const settle: Callback = (error, result) => {
    if (settled) return
    settled = true
    callback(error, result)
  }
  let submitted = false
  let ended = false
  let onEnded: (() => void) | undefined
  let cancelled: Promise<Error | undefined> | undefined
  let query: PgQuery | undefined
  // For the diagnostics message: when the backend was handed the query, when the scope was
  // cancelled, which backend was targeted, and how many cancel requests it took.
  let submittedAt = 0
  let abortedAt = 0
  let target: { host: string; port: number; processID: number } | undefined
  let cancelRequests = 0
  const onAbort = (): void => {
    if (ended) return
    if (!submitted) {
      // Still waiting (for the chain or behind another query): it will never be sent.
      settle(cancellationOf(signal))
      return
    }
    abortedAt = performance.now()
    const { host, port, processID, secretKey } = client as { host: string; port: number; processID: number; secretKey: number }
    target = { host, port, processID }
    const key = { host, port, processID, secretKey, since: guard.backendSince ?? performance.now() }
    cancelled = (async () => {
      // A signal that reaches the backend before it has read the query is dropped (PostgreSQL
      // ignores a cancel while it waits for a command): while the query runs on, ask again, each
      // request sent only while it still runs and answered (closed) before the next.
      for (let wait = 5; ; wait = Math.min(wait * 2, 1_000)) {
        cancelRequests++
        const failure = await sendCancelRequest(key)
        if (failure !== undefined || ended) return failure
        const runsOn = await new Promise<boolean>((resolve) => {
          const timer = setTimeout(() => {
            onEnded = undefined
            resolve(true)
          }, wait)
          onEnded = () => {
            clearTimeout(timer)
            resolve(false)
          }
        })
        if (!runsOn || ended) return undefined
      }
    })()
  }
  const start = (): void => {
    if (signal.aborted) {
      slot.done()
      settle(cancellationOf(signal))
      return
    }
    signal.addEventListener('abort', onAbort, { once: true })
    try {
      query = new guard.Query(config, values, (error, result) => {
        ended = true
        onEnded?.()
        signal.removeEventListener('abort', onAbort)
        const finish = (undelivered?: Error): void => {
          slot.done()
          if (undelivered !== undefined) warnUndelivered(undelivered)
          // 57014 (query_canceled) after our cancel request: report the scope's cancellation.
          const stopped = error && cancelled !== undefined && (error as { code?: unknown }).code === '57014'
          if (cancelled !== undefined && queryCancelChannel.hasSubscribers) {
            queryCancelChannel.publish({
              pid: target!.processID,
              host: target!.host,
              port: target!.port,
              reason: cancellationOf(signal),
              text: shortText(query?.text),
              name: typeof query?.name === 'string' && query.name !== '' ? query.name : undefined,
              runningMs: abortedAt - submittedAt,
              stopMs: performance.now() - abortedAt,
              outcome: stopped ? 'cancelled' : error ? 'failed' : 'completed',
              cancelRequests,
              acknowledged: undelivered === undefined,
              error: undelivered,
              client,
            } satisfies QueryCancelMessage)
          }
          if (stopped) settle(cancellationOf(signal))
          else settle(error, result)
        }
        if (cancelled === undefined) finish()
        // Even when the backend already took our signal, the server sends it twice (to the backend
        // and to its process group): only once the cancel connection has closed is neither left.
        else void cancelled.then(finish)
      })
      const submit = query.submit
      query.submit = function (this: PgQuery, connection: unknown) {
        // The backend is about to run it: from here on a cancel request may be sent, never before.
        if (signal.aborted) return cancellationOf(signal)
        submitted = true
        submittedAt = performance.now()
        if (guard.backendSince === undefined || guard.backendPid !== client.processID) {
          guard.backendSince = performance.now()
          guard.backendPid = client.processID
        }
        prepareCancelRequest(client.host, client.port, guard.backendSince)
        return submit.call(this, connection)
      }
      guard.query.call(client, query)
    } catch (error) {
      ended = true
      signal.removeEventListener('abort', onAbort)
      slot.done()
      settle(error as Error)
    }
  }
  if (slot.previous === undefined) start()
  else {
    // Waiting for an earlier query's cancel handshake: leave at once if our own scope aborts.
    const onAbortWhileWaiting = (): void => settle(cancellationOf(signal))
    signal.addEventListener('abort', onAbortWhileWaiting, { once: true })
    void slot.previous.then(() => {
      signal.removeEventListener('abort', onAbortWhileWaiting)
      start()
    })
  }
}

/**
 * Runs `client.query(config, values)` (a guarded client) cancelled by `signal`, whatever scope the
 * caller runs in; `callback` gets the result, the query's error or the scope's cancellation.
 */
export function queryUnderSignal(client: PgClient, signal: AbortSignal, config: unknown, values: unknown, callback: Callback): void {
  const guard = (client as Guarded)[kGuard]
  if (guard === undefined || isRollback(config)) {
    try {
      client.query(config, values, callback)
    } catch (error) {
      callback(error as Error)
    }
    return
  }
  runGuarded(client, guard, signal, config, values, callback)
}

/**
 * Makes `client.query()` cancellable (an own property on the client; idempotent). Queries made
 * outside any scope, submittables (cursors, streams) and clients in pipeline mode go straight to
 * node-postgres, once no cancellable query of this client is still settling.
 */
export function guardClient(client: PgClient): void {
  const guarded = client as Guarded
  if (isGuarded(guarded)) return
  const original = client.query
  const Query = (client.constructor as { Query?: QueryConstructor }).Query
  if (typeof Query !== 'function') return // not node-postgres's JavaScript client (pg-native): left as it is
  const guard: Guard = { tail: undefined, backendSince: undefined, backendPid: null, Query, query: original }
  Object.defineProperty(guarded, kGuard, { value: guard, enumerable: false })
  Object.defineProperty(guarded, 'query', {
    configurable: true,
    writable: true,
    enumerable: false,
    value: function query(this: Guarded, ...args: unknown[]): unknown {
      let [config, values, callback] = args
      const signal = currentSignal()
      if (
        signal === undefined ||
        config == null ||
        isSubmittable(config) ||
        this.pipeline === true ||
        isRollback(config) ||
        !readable(config)
      ) {
        if (guard.tail === undefined || config == null) return original.apply(this, args)
        return afterTail(this, guard, args)
      }
      if (typeof values === 'function') {
        callback = values
        values = undefined
      }
      if (typeof callback === 'function') {
        runGuarded(this, guard, signal, config, values, callback as Callback)
        return undefined
      }
      return new Promise((resolve, reject) => {
        runGuarded(this, guard, signal, config, values, (error, result) => (error ? reject(error) : resolve(result)))
      })
    },
  })
}

/**
 * A query that needs no cancelling, made while a cancellable one is still settling: handed to
 * node-postgres once that one is done, with the same result node-postgres would give (a promise,
 * the submittable, or nothing when a callback is passed).
 */
function afterTail(client: Guarded, guard: Guard, args: unknown[]): unknown {
  const slot = enqueue(guard)
  const [config, values, callback] = args
  const handOver = (): unknown => {
    try {
      return guard.query.apply(client, args)
    } finally {
      slot.done()
    }
  }
  if (isSubmittable(config)) {
    void slot.previous!.then(handOver)
    return config
  }
  const cb = typeof values === 'function' ? values : callback
  if (typeof cb === 'function') {
    void slot.previous!.then(() => {
      try {
        handOver()
      } catch (error) {
        cb(error)
      }
    })
    return undefined
  }
  return slot.previous!.then(handOver)
}

/** ROLLBACK or ABORT (also `ROLLBACK TO SAVEPOINT`), after any leading comments. */
const rollback = /^\s*(?:(?:\/\*[\s\S]*?\*\/|--[^\n]*(?:\n|$))\s*)*(?:rollback|abort)\b/i

/**
 * Whether a query unwinds a transaction. Those are never cancelled (nor refused in a scope already
 * cancelled): the `ROLLBACK` that follows a cancelled statement is what makes the connection
 * usable again, and it runs in the very scope that was cancelled.
 */
export function isRollback(config: unknown): boolean {
  let text: unknown = config
  if (typeof config === 'object' && config !== null) {
    try {
      text = (config as { text?: unknown }).text
    } catch {
      return false
    }
  }
  return typeof text === 'string' && rollback.test(text.slice(0, 1024))
}

/** Whether a config can be read without throwing (node-postgres itself reports one that cannot). */
function readable(config: unknown): boolean {
  if (typeof config !== 'object' || config === null) return true
  try {
    void (config as { submit?: unknown }).submit
    return true
  } catch {
    return false
  }
}

/** A query object node-postgres hands the connection to (pg's Query, pg-cursor, pg-query-stream...). */
function isSubmittable(config: unknown): boolean {
  try {
    return typeof config === 'object' && config !== null && typeof (config as { submit?: unknown }).submit === 'function'
  } catch {
    return false
  }
}
