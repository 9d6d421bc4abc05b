// The registry's own Redis client: whether Redis answers (at start, and again after a failure),
// the report of a lost connection, and Redis trouble reported once per kind until the connection
// is back, never thrown.
import { codedError, errorCodes } from '@taskscope/core/adapter'
import type { Redis } from 'ioredis'
import { firstConnection, isConnectionError, type ResolvedConnection } from './connection.js'
import type { OnError } from './options.js'
import { TroubleReport } from './trouble-report.js'

export class Control {
  /** The client: reads of our own (the events stream's position) and cancel requests go through it. */
  readonly client: Redis
  readonly #label: string
  readonly #queue: string
  readonly #troubles: TroubleReport
  #start: Promise<void>
  #startFailed = false
  #lost = false
  #closing = false

  /** `back` is called each time the connection is ready again after it was lost. */
  constructor(connection: ResolvedConnection, queue: string, onError: OnError, back: () => void) {
    this.#label = connection.label
    this.#queue = queue
    this.#troubles = new TroubleReport(onError)
    this.client = connection.create()
    this.client.on('error', this.trouble)
    let connected = false
    let lost = false
    this.client.on('ready', () => {
      connected = true
      this.#lost = false
      this.#troubles.reset()
      if (lost && !this.#closing) back()
      lost = false
    })
    this.client.on('close', () => {
      if (!connected || this.#closing) return
      connected = false
      lost = true
      this.#lost = true
      const message = `Lost the connection to Redis at ${this.#label} (background queue "${this.#queue}"): reconnecting; jobs stay in Redis`
      this.trouble(codedError(Error, errorCodes.queueUnavailable, message))
    })
    this.#start = this.#firstConnection()
    this.#start.catch(this.trouble)
  }

  /** True while the client is connected. */
  get ready(): boolean {
    return this.client.status === 'ready'
  }

  /** Resolves once Redis answers; rejects with ERR_QUEUE_UNAVAILABLE at the first failure before that. */
  connected(): Promise<void> {
    if (this.ready) return Promise.resolve()
    if (this.#lost) {
      // Lost after it answered: say so now (a command would wait in ioredis's queue until Redis is back).
      const message = `Cannot reach Redis at ${this.#label} for the background queue "${this.#queue}": the connection was lost; reconnecting`
      return Promise.reject(codedError(Error, errorCodes.queueUnavailable, message))
    }
    if (!this.#startFailed) return this.#start
    // Redis was down the last time we asked: ask again (ioredis keeps reconnecting).
    this.#start = this.#firstConnection()
    return this.#start
  }

  #firstConnection(): Promise<void> {
    this.#startFailed = false
    const start = firstConnection(this.client, this.#label, this.#queue)
    start.catch(() => (this.#startFailed = true))
    return start
  }

  /** From now on the connection closing is expected: it is not reported as lost. */
  closing(): void {
    this.#closing = true
  }

  /** Redis trouble: reported to `onError` once per kind of failure until the connection is ready again, never thrown. */
  trouble = (error: unknown): void => {
    // A connection going down or not coming up is reported once, by this client, naming the connection.
    if (isConnectionError(error)) return
    this.#troubles.report(error)
  }
}
