// What the process reports on the side: unhandled rejections and warnings.
import { track } from './cleanup.ts'
import { flush } from './promises.ts'

/**
 * Collects unhandled rejections while `fn` runs and for a few turns after it; returns them.
 * Vitest reports unhandled rejections itself, but collecting them lets a test assert "none".
 */
export async function collectUnhandled(fn: () => Promise<void> | void): Promise<unknown[]> {
  const seen: unknown[] = []
  const onUnhandled = (reason: unknown): void => {
    seen.push(reason)
  }
  process.on('unhandledRejection', onUnhandled)
  try {
    await fn()
    await flush(3)
  } finally {
    process.off('unhandledRejection', onUnhandled)
  }
  return seen
}

/**
 * Collects every process warning (MaxListenersExceededWarning above all) from now until
 * `cleanup()`. Warnings are emitted on a later tick: call `flush()` before reading `warnings`.
 */
export function collectWarnings(): { warnings: Error[]; flush(): Promise<void> } {
  const warnings: Error[] = []
  const onWarning = (warning: Error): void => {
    warnings.push(warning)
  }
  process.on('warning', onWarning)
  track('client', () => process.off('warning', onWarning))
  // process.emitWarning() emits on process.nextTick; a macrotask turn is past every pending one.
  return { warnings, flush: () => flush(1) }
}
