/**
 * The tinypool worker of a Threadpool: this module runs inside each worker thread (tinypool
 * imports it by URL as `dist/worker-entry.js`; the main thread never imports it). Its default
 * export runs one task and never throws: whatever the task throws comes back as a `TaskReply`
 * (see internal/pool-protocol.ts), serialized with remote-error.ts.
 *
 * @module
 */
import { BroadcastChannel, MessagePort, type TransferListItem } from 'node:worker_threads'
import { Tinypool } from 'tinypool'
import { compileFunction, isShippedFrame } from './compile-function.js'
import { deferred, type Deferred } from '../../internal/deferred.js'
import { codedError, errorCodes } from '../../errors.js'
import {
  type PoolWorkerData,
  type SourceAnswer,
  type SourceRequest,
  type TaskMessage,
  type TaskReply,
} from '../protocol.js'
import type { ShippedEntry } from '../function-source.js'
import { serializeThrown } from '../remote-error.js'

type Callable = (...args: unknown[]) => unknown

if (!Tinypool.isWorkerThread) throw new Error('worker-entry.js runs only inside a Threadpool worker thread')

const channel = new BroadcastChannel((Tinypool.workerData as PoolWorkerData).channel)
// The worker stays alive through tinypool's own port; this channel must not keep it alive alone.
channel.unref()
/** Functions ready to call, by id (a compiled source, or a module's export). */
const ready = new Map<number, Callable>()
const entries = new Map<number, ShippedEntry>()
const awaitedEntries = new Map<number, Deferred<ShippedEntry>>()
const modules = new Map<string, Promise<Record<string, unknown>>>()
/** Successful replies and their task's name, to explain a result that cannot be cloned. */
const replies = new WeakMap<object, string>()

channel.onmessage = (event: unknown): void => {
  const message = (event as { data: SourceAnswer | SourceRequest }).data
  if (!('id' in message)) return // another worker's request
  const awaited = awaitedEntries.get(message.id)
  if (awaited === undefined) return
  awaitedEntries.delete(message.id)
  if (message.entry === undefined) awaited.reject(new Error(`The pool has no function with id ${message.id}`))
  else awaited.resolve(message.entry)
}

/** What id `id` names, asked of the pool once per worker. */
async function entryOf(id: number): Promise<ShippedEntry> {
  const known = entries.get(id)
  if (known !== undefined) return known
  let awaited = awaitedEntries.get(id)
  if (awaited === undefined) {
    awaited = deferred()
    awaitedEntries.set(id, awaited)
    channel.postMessage({ need: id } satisfies SourceRequest)
  }
  const entry = await awaited.promise
  entries.set(id, entry)
  return entry
}

async function functionOf(id: number, entry: ShippedEntry): Promise<Callable> {
  let fn = ready.get(id)
  if (fn !== undefined) return fn
  if ('source' in entry) {
    fn = compileFunction(entry.source, id, entry.name)
  } else {
    const { moduleUrl, exportName } = entry
    let module = modules.get(moduleUrl)
    if (module === undefined) {
      module = import(moduleUrl) as Promise<Record<string, unknown>>
      modules.set(moduleUrl, module)
      module.catch(() => modules.delete(moduleUrl)) // retry a failed import on the next task
    }
    const exported = (await module)[exportName]
    if (typeof exported !== 'function') {
      const message = `The module ${moduleUrl} has no function export "${exportName}" (found ${typeof exported})`
      throw codedError(TypeError, errorCodes.threadpoolNoExport, message)
    }
    fn = exported as Callable
  }
  ready.set(id, fn)
  return fn
}

/** A ReferenceError thrown by the shipped code itself means it read a variable of its old scope. */
function explain(error: unknown, id: number, entry: ShippedEntry | undefined): unknown {
  if (entry === undefined || !('source' in entry) || !(error instanceof ReferenceError) || !isShippedFrame(error.stack, id)) return error
  const variable = /^(\S+) is not defined$/.exec(error.message)?.[1]
  if (variable === undefined) return error
  return codedError(
    ReferenceError,
    errorCodes.threadpoolNotSelfContained,
    `The Threadpool function "${entry.name}" is not self-contained: it reads "${variable}", which does not ` +
      'exist in the worker thread. Pool functions must be self-contained: they may use only their ' +
      'parameters, globals and what they import() themselves. Pass values as arguments, or export the ' +
      'function from a module and run it with workerTask().',
    { cause: error },
  )
}

/**
 * Runs one task: compiles or imports its function (once per worker), calls it with the task's
 * arguments and returns the outcome as a reply. Never rejects.
 */
export default async function runTask({ id, args }: TaskMessage): Promise<TaskReply> {
  let entry: ShippedEntry | undefined
  try {
    entry = entries.get(id) ?? (await entryOf(id))
    const fn = ready.get(id) ?? (await functionOf(id, entry))
    const reply: TaskReply = { ok: true, value: await fn(...args) }
    replies.set(reply, entry.name)
    return reply
  } catch (error) {
    return { ok: false, error: serializeThrown(explain(error, id, entry)) }
  }
}

// tinypool posts our reply with `port.postMessage({ taskId, result: reply, ... })` and, when the
// value cannot be cloned, the throw escapes into process.nextTick and kills the worker: the main
// thread would see a crash with an empty error. Wrapping postMessage is the one place where that
// throw can be caught; only replies made above are retried, as a clear error, and the worker lives.
// Any other message (user code may post its own) behaves exactly as before.
const postMessage = MessagePort.prototype.postMessage
MessagePort.prototype.postMessage = function (this: MessagePort, value: unknown, transferList?: readonly TransferListItem[]): void {
  try {
    return postMessage.call(this, value, transferList)
  } catch (error) {
    const response = value as { result?: unknown } | null
    const name = typeof response?.result === 'object' && response.result !== null ? replies.get(response.result) : undefined
    if (name === undefined || (error as { name?: unknown } | null)?.name !== 'DataCloneError') throw error
    const message = `The result of the Threadpool task "${name}" could not be cloned back to the main thread: ${(error as Error).message}`
    const failure = codedError(TypeError, errorCodes.threadpoolDataClone, message, { cause: error })
    const result: TaskReply = { ok: false, error: serializeThrown(failure) }
    return postMessage.call(this, { ...response, result }, [])
  }
}
