// The main-thread end of the pool's side channel, a BroadcastChannel private to the pool: workers
// that meet a function id they have not compiled yet ask for its entry, and this answers; and the
// pool asks the thread running a task with `grace` to abort its in-thread signal.
import { randomUUID } from 'node:crypto'
import { BroadcastChannel } from 'node:worker_threads'
import { type CancelledError, TimeoutError } from '../errors.js'
import { entryOf } from './function-source.js'
import { type AbortRequest, cancelRingSlots, type SourceAnswer, type SourceRequest } from './protocol.js'
import { serializeThrown } from './remote-error.js'

/** A pool's side channel (function sources and abort requests): its `name` goes to the workers; `close()` when the pool stops. */
export interface SideChannel {
  readonly name: string
  /** The cancellation ring the workers check (shared memory, see protocol.ts). */
  readonly cancelled: Int32Array
  /** Asks the thread running task `seq` to abort its `this.signal` with (a copy of) `error`. */
  abort(seq: number, error: CancelledError): void
  close(): void
}

/** Opens the channel; `stopped()` tells it that nobody is left to answer a request still in flight. */
export function openSideChannel(stopped: () => boolean): SideChannel {
  const name = `taskscope:threadpool:${randomUUID()}`
  const channel = new BroadcastChannel(name)
  channel.unref()
  channel.onmessage = (event: unknown) => {
    const { need } = (event as { data: SourceRequest }).data
    if (need !== undefined && !stopped()) channel.postMessage({ id: need, entry: entryOf(need) } satisfies SourceAnswer)
  }
  const cancelled = new Int32Array(new SharedArrayBuffer(cancelRingSlots * 2 * Int32Array.BYTES_PER_ELEMENT))
  const abort = (seq: number, error: CancelledError): void => {
    const kind = error instanceof TimeoutError ? 'timeout' : 'cancelled'
    const slot = (seq % cancelRingSlots) * 2
    Atomics.store(cancelled, slot + 1, kind === 'timeout' ? 1 : 0)
    Atomics.store(cancelled, slot, seq)
    const cause = 'cause' in error ? serializeThrown(error.cause) : undefined
    channel.postMessage({ abort: seq, kind, message: error.message, cause } satisfies AbortRequest)
  }
  return { name, cancelled, abort, close: () => channel.close() }
}
