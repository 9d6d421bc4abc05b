// Test helpers shared by the packages' test suites (core, fastify, express, koa): deferreds,
// work that waits for its signal, and a logger that records what the runtime logs.
import { once } from 'node:events'
import type { Server } from 'node:http'
import net from 'node:net'
import type { RuntimeLogger } from '@taskscope/core'

export interface Deferred<T> {
  promise: Promise<T>
  resolve: (value: T | PromiseLike<T>) => void
  reject: (reason?: unknown) => void
}

export function deferred<T = void>(): Deferred<T> {
  let resolve!: Deferred<T>['resolve']
  let reject!: Deferred<T>['reject']
  const promise = new Promise<T>((res, rej) => {
    resolve = res
    reject = rej
  })
  return { promise, resolve, reject }
}

/** Work that waits until its signal aborts, then rejects with the signal's reason. */
export const untilAborted = (signal: AbortSignal): Promise<never> =>
  new Promise((_, reject) => signal.addEventListener('abort', () => reject(signal.reason), { once: true }))

export interface LogEntry {
  level: 'debug' | 'info' | 'warn' | 'error'
  fields: Record<string, unknown>
  message: string | undefined
}

/** A logger that records entries; `next(level)` resolves with the next entry at that level. */
export function memoryLogger(): { logger: RuntimeLogger; entries: LogEntry[]; next: (level: LogEntry['level']) => Promise<LogEntry> } {
  const entries: LogEntry[] = []
  const waiters: Array<{ level: LogEntry['level']; resolve: (entry: LogEntry) => void }> = []
  const at =
    (level: LogEntry['level']) =>
    (fields: object, message?: string): void => {
      const entry = { level, fields: fields as Record<string, unknown>, message }
      entries.push(entry)
      for (const waiter of waiters.filter((w) => w.level === level)) {
        waiters.splice(waiters.indexOf(waiter), 1)
        waiter.resolve(entry)
      }
    }
  const logger: RuntimeLogger = { debug: at('debug'), info: at('info'), warn: at('warn'), error: at('error') }
  const next = (level: LogEntry['level']): Promise<LogEntry> => new Promise((resolve) => waiters.push({ level, resolve }))
  return { logger, entries, next }
}

/** A raw client socket connected to 127.0.0.1:`port` (errors ignored; data drained unless `resume: false`). */
export async function connect(port: number, { resume = true }: { resume?: boolean } = {}): Promise<net.Socket> {
  const socket = net.connect(port, '127.0.0.1')
  await once(socket, 'connect')
  socket.on('error', () => {})
  if (resume) socket.resume()
  return socket
}

/** Starts `server` on a free loopback port; resolves with the port. */
export async function listenOnLoopback(server: Server): Promise<number> {
  server.listen(0, '127.0.0.1')
  await once(server, 'listening')
  return (server.address() as net.AddressInfo).port
}

/** Closes `server` and every connection it still has. */
export async function closeServer(server: Server): Promise<void> {
  server.closeAllConnections()
  if (server.listening) await new Promise((resolve) => server.close(resolve))
}
