// The main-thread end of function shipping: workers that meet a function id they have not compiled
// yet ask for its entry on a BroadcastChannel private to their pool, and this answers.
import { randomUUID } from 'node:crypto'
import { BroadcastChannel } from 'node:worker_threads'
import { entryOf } from './function-source.js'
import type { SourceAnswer, SourceRequest } from './protocol.js'

/** A pool's source channel: its `name` goes to the workers; `close()` when the pool stops. */
export interface SourceChannel {
  readonly name: string
  close(): void
}

/** Opens the channel; `stopped()` tells it that nobody is left to answer a request still in flight. */
export function openSourceChannel(stopped: () => boolean): SourceChannel {
  const name = `taskscope:threadpool:${randomUUID()}`
  const channel = new BroadcastChannel(name)
  channel.unref()
  channel.onmessage = (event: unknown) => {
    const { need } = (event as { data: SourceRequest }).data
    if (!stopped()) channel.postMessage({ id: need, entry: entryOf(need) } satisfies SourceAnswer)
  }
  return { name, close: () => channel.close() }
}
