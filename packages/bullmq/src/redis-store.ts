// The Redis store: our own client (control.ts) tells whether Redis answers and publishes cancel
// requests on a pub/sub channel of the queue; each listener has a subscriber client of its own.
// Removals and ends need no notice of ours: BullMQ's events stream on Redis reports them all.
import { codedError, errorCodes } from '@taskscope/core/adapter'
import { createRedisBackend } from 'bullmq'
import type { Redis } from 'ioredis'
import { within } from './bounded.js'
import { cancelChannel } from './cancellation.js'
import { closeClient, isConnectionError, type ResolvedConnection } from './connection.js'
import { Control } from './control.js'
import type { OnError } from './options.js'
import { type JobMessage, type JobTopic, parseJobMessage, type Store } from './store.js'

export function openRedisStore(connection: ResolvedConnection, queue: string, prefix: string, onError: OnError, back: () => void): Store {
  return new RedisStore(connection, queue, prefix, onError, back)
}

class RedisStore implements Store {
  readonly kind = 'redis'
  readonly label: string
  readonly connection: ResolvedConnection['options']
  readonly backend = createRedisBackend
  readonly #resolved: ResolvedConnection
  readonly #control: Control
  readonly #queue: string
  readonly #prefix: string
  readonly trouble: (error: unknown) => void

  constructor(connection: ResolvedConnection, queue: string, prefix: string, onError: OnError, back: () => void) {
    this.#resolved = connection
    this.label = connection.label
    this.connection = connection.options
    this.#queue = queue
    this.#prefix = prefix
    this.#control = new Control(connection, queue, onError, back)
    this.trouble = this.#control.trouble
  }

  get ready(): boolean {
    return this.#control.ready
  }

  connected(): Promise<void> {
    return this.#control.connected()
  }

  failure = (error: unknown): never => {
    throw isConnectionError(error) ? this.unavailable(error) : error
  }

  unavailable(error: unknown): Error {
    const detail = error instanceof Error ? error.message : String(error)
    return codedError(
      Error,
      errorCodes.queueUnavailable,
      `Cannot reach Redis at ${this.label} for the background queue "${this.#queue}": ${detail}`,
      {
        cause: error,
      },
    )
  }

  async lastEventId(): Promise<string> {
    const key = `${this.#prefix}:${this.#queue}:events`
    const [last] = (await this.#control.client.xrevrange(key, '+', '-', 'COUNT', 1)) as [string, string[]][]
    return last?.[0] ?? '0-0'
  }

  async publish(topic: JobTopic, message: JobMessage): Promise<void> {
    if (topic !== 'cancel') return // BullMQ's events stream (a Redis stream) says so, and misses nothing
    await this.#control.client.publish(cancelChannel(this.#prefix, this.#queue), JSON.stringify(message))
  }

  async subscribe(topic: JobTopic, listener: (message: JobMessage) => void): Promise<() => Promise<void>> {
    if (topic !== 'cancel') return async () => {}
    const subscriber: Redis = this.#resolved.create({ maxRetriesPerRequest: null })
    subscriber.on('error', this.trouble)
    subscriber.on('message', (_channel: string, text: string) => {
      const message = parseJobMessage(text)
      if (message !== undefined) listener(message)
    })
    // Not awaited: Redis may be down at start; ioredis subscribes again once it is back.
    subscriber.subscribe(cancelChannel(this.#prefix, this.#queue)).catch(this.trouble)
    return async () => {
      // Bounded by the caller; a frozen Redis leaves QUIT unanswered: then drop the connection.
      if (!(await within(closeClient(subscriber), 1_000))) subscriber.disconnect()
    }
  }

  closing(): void {
    this.#control.closing()
  }

  async close(away: boolean, ms: number): Promise<void> {
    const client = this.#control.client
    if (away || !(await within(closeClient(client), ms, this.trouble))) client.disconnect()
  }
}
