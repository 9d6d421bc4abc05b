// Loaded with `--import` in each thread of a Threadpool, before tinypool's worker: see reply-guard.ts.
// tinypool's worker gets its port in the first message on `parentPort`; listening here would take
// that message before tinypool listens, so the guard rides along with tinypool's own listener,
// and `parentPort.on` is itself again as soon as tinypool has called it (before any task's code
// runs). A thread the user starts from a pool thread inherits the flag; there this does nothing.
import { type MessagePort, parentPort, workerData } from 'node:worker_threads'
import { preload } from './reply-guard.js'

const ours =
  (Array.isArray(workerData) &&
    (workerData[1] as { channel?: unknown } | undefined)?.channel?.toString().startsWith('taskscope:threadpool:')) === true
if (ours && parentPort !== null) {
  const port = parentPort
  type On = (event: string | symbol, listener: (...args: any[]) => void) => unknown
  const target = port as unknown as { on: On }
  preload((guardPort) => {
    const own = Object.getOwnPropertyDescriptor(target, 'on')
    target.on = (event, listener) => {
      if (own === undefined) delete (target as { on?: On }).on
      else Object.defineProperty(target, 'on', own)
      if (event !== 'message') return target.on(event, listener)
      return target.on(event, (message: { port?: MessagePort } | null) => {
        if (message?.port !== undefined) guardPort(message.port)
        listener(message)
      })
    }
  })
}
