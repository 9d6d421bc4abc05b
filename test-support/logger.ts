import type { RuntimeLogger } from '@taskscope/core'

export interface LogEntry {
  level: 'debug' | 'info' | 'warn' | 'error'
  fields: Record<string, unknown>
  message: string | undefined
}

export interface MemoryLogger {
  /** Pass it as the `logger` option of `createRuntime()` or an adapter. */
  logger: RuntimeLogger
  /** Every entry logged so far, in order. */
  entries: LogEntry[]
  /** Resolves with the next entry logged at `level` (call it before the action that logs). */
  next(level: LogEntry['level']): Promise<LogEntry>
}

/** A logger that records what the runtime logs. */
export function memoryLogger(): MemoryLogger {
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
