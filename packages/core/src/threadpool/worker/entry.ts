// The tinypool worker of a Threadpool: this module runs inside each worker thread (tinypool
// imports it by path as `dist/threadpool/worker/entry.js`; the main thread never imports it). Its
// default export runs one task and never throws: whatever the task throws comes back as a
// `TaskReply` (packed, see ../protocol.ts), serialized with ../remote-error.ts. The task's function is
// called with a `TaskContext` as `this` (task-context.ts); replies go out through reply-guard.ts.
import { AsyncLocalStorage } from 'node:async_hooks'
import { BroadcastChannel, MessagePort } from 'node:worker_threads'
import { Tinypool } from 'tinypool'
import { codedError, errorCodes } from '../../errors.js'
import { type Deferred, deferred } from '../../internal/deferred.js'
import type { ShippedEntry } from '../function-source.js'
import {
  type AbortRequest,
  type LateStray,
  type PackedReply,
  type PackedTask,
  type PoolWorkerData,
  type SourceAnswer,
  type SourceRequest,
  type StrayKind,
  type TaskReply,
  unpackTask,
} from '../protocol.js'
import { serializeThrown } from '../remote-error.js'
import { compileFunction, isShippedFrame } from './compile-function.js'
import { installGuard, packValue, replies, retire } from './reply-guard.js'
import { endAbortable, onAbortRequest, startAbortable, TaskContext } from './task-context.js'

type Callable = (...args: unknown[]) => unknown

/** What a stray was: an error thrown outside any promise, or a rejection nobody handled. */
class StrayError extends Error {
  constructor(readonly kind: StrayKind) {
    super(kind)
  }
}

if (!Tinypool.isWorkerThread) throw new Error('worker-entry.js runs only inside a Threadpool worker thread')

const workerData = Tinypool.workerData as PoolWorkerData
const channel = new BroadcastChannel(workerData.channel)
// The worker stays alive through tinypool's own port; this channel must not keep it alive alone.
channel.unref()
/** Functions ready to call, by id (a compiled source, or a module's export). */
const ready = new Map<number, Callable>()
const entries = new Map<number, ShippedEntry>()
const awaitedEntries = new Map<number, Deferred<ShippedEntry>>()
const modules = new Map<string, Promise<Record<string, unknown>>>()

channel.onmessage = (event: unknown): void => {
  const message = (event as { data: SourceAnswer | SourceRequest | AbortRequest }).data
  if ('abort' in message) return onAbortRequest(message)
  if (!('id' in message)) return // another worker's request
  const awaited = awaitedEntries.get(message.id)
  if (awaited === undefined) return
  awaitedEntries.delete(message.id)
  if (message.entry === undefined) awaited.reject(new Error(`The pool has no function with id ${message.id}`))
  else awaited.resolve(message.entry)
}

/** One task being run: strays that surface in its async call tree before it answers fail it. */
interface TaskRun {
  name: string
  answered: boolean
  /** Fails the task's answer (set while an asynchronous task runs: a synchronous one answers before any stray can surface). */
  fail: ((error: StrayError) => void) | undefined
}
/** Strays that surfaced after their task had answered, sent with the next reply (a few at most). */
const late: LateStray[] = []
const currentRun = new AsyncLocalStorage<TaskRun>()
const onStray =
  (kind: StrayKind) =>
  (error: unknown): void => {
    const run = currentRun.getStore()
    if (run === undefined) {
      // Not from a task (the pool's own machinery failed): let the thread die, as without us.
      process.off('uncaughtException', onUncaught)
      process.off('unhandledRejection', onUnhandled)
      process.nextTick(() => {
        throw error
      })
      return
    }
    retire() // the thread's state can no longer be trusted: replaced after its current (or next) answer
    if (!run.answered && run.fail !== undefined) run.fail(Object.assign(new StrayError(kind), { cause: error }))
    else if (late.length < 10) late.push({ task: run.name, kind, error: serializeThrown(error) })
  }
const onUncaught = onStray('uncaught exception')
const onUnhandled = onStray('unhandled rejection')
process.on('uncaughtException', onUncaught)
process.on('unhandledRejection', onUnhandled)

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

/** Settles once this thread can import TypeScript modules as the main thread does (see typescript-loader.ts). */
let typescriptReady: Promise<void> | undefined
const typescriptFile = /\.[cm]?tsx?$/
const probeUrl = new URL('./typescript-probe.mts', import.meta.url).href // copied next to this file by the build

/** Imports a workerTask module; a TypeScript one, under tsx, once tsx is registered in this thread. */
async function importModule(url: string): Promise<Record<string, unknown>> {
  const { tsx } = workerData
  if (tsx !== undefined && typescriptFile.test(new URL(url).pathname)) {
    typescriptReady ??= import(probeUrl).then(
      () => {}, // tsx registered itself in this thread (Node 22.22.3+, 24.11.1+), or the thread strips types
      async (error: { code?: unknown } | null) => {
        const code = error?.code
        if (code !== 'ERR_UNKNOWN_FILE_EXTENSION' && code !== 'ERR_UNSUPPORTED_NODE_MODULES_TYPE_STRIPPING') return
        ;((await import(tsx)) as { register(): unknown }).register()
      },
    )
    await typescriptReady
  }
  return (await import(url)) as Record<string, unknown>
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
      module = importModule(moduleUrl)
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

function isThenable(value: unknown): value is PromiseLike<unknown> {
  return (
    (typeof value === 'object' || typeof value === 'function') && value !== null && typeof (value as { then?: unknown }).then === 'function'
  )
}

/** The task's own outcome, unless a stray of the task surfaces first (one promise per task, nothing else). */
function answerOrStray(run: TaskRun, result: PromiseLike<unknown>): Promise<unknown> {
  return new Promise((resolve, reject) => {
    run.fail = reject
    result.then(resolve, reject)
  })
}

/**
 * Runs one task: compiles or imports its function (once per worker), calls it with the task's
 * arguments and returns the outcome as a reply (packed, see ../protocol.ts). Never rejects. A stray
 * rejection or throw from the task's code before it answers fails it at once, even if its own
 * promise never settles. (Waiting a turn before answering would catch more strays in time, but
 * costs a third of no-op throughput.)
 */
export default async function runTask(packed: PackedTask): Promise<PackedReply> {
  const { id, args, seq } = unpackTask(packed)
  let entry: ShippedEntry | undefined
  const run: TaskRun = { name: `#${id}`, answered: false, fail: undefined }
  const context = new TaskContext()
  let value: unknown
  let reply: TaskReply | undefined
  try {
    entry = entries.get(id) ?? (await entryOf(id))
    run.name = entry.name
    // An abort request arrives on the pool's channel, outside any task: it runs in this task's context.
    if (seq !== undefined) startAbortable(seq, context, workerData.cancelled, run.name, currentRun.run(run, AsyncLocalStorage.snapshot))
    const fn = ready.get(id) ?? (await functionOf(id, entry))
    const result = currentRun.run(run, () => Reflect.apply(fn, context, args))
    value = isThenable(result) ? await answerOrStray(run, result) : result
  } catch (error) {
    reply =
      error instanceof StrayError
        ? { ok: false, stray: { kind: error.kind, error: serializeThrown(error.cause) } }
        : { ok: false, error: serializeThrown(explain(error, id, entry)) }
  }
  if (seq !== undefined) endAbortable(context)
  run.answered = true
  if (reply === undefined && late.length === 0) return packValue(value, run.name)
  reply ??= { ok: true, value }
  if (late.length > 0) reply = { ...reply, late: late.splice(0) }
  replies.set(reply, run.name)
  return reply
}

installGuard(MessagePort.prototype)
