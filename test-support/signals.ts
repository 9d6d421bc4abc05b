// Work that waits for its AbortSignal, and what tests read from abort reasons.

/**
 * Work for `createTask()` / `backgroundTasks.add()`: waits until `signal` aborts (at once if it
 * already did), then rejects with `signal.reason`. `seen` (optional) receives that reason first:
 * `createTask((signal) => untilAborted(signal, taskSaw))`.
 */
export function untilAborted(signal: AbortSignal, seen?: { resolve(reason: unknown): void }): Promise<never> {
  return new Promise<never>((_, reject) => {
    const onAbort = (): void => {
      seen?.resolve(signal.reason)
      reject(signal.reason)
    }
    if (signal.aborted) onAbort()
    else signal.addEventListener('abort', onAbort, { once: true })
  })
}

/** Resolves with `signal.reason` once the signal aborts (at once if it already did). */
export function waitForAbort(signal: AbortSignal): Promise<unknown> {
  if (signal.aborted) return Promise.resolve(signal.reason)
  return new Promise((resolve) => {
    signal.addEventListener('abort', () => resolve(signal.reason), { once: true })
  })
}

/** The `code` of an abort reason (taskscope's errors all carry one). */
export function codeOf(reason: unknown): unknown {
  return (reason as { code?: unknown } | null | undefined)?.code
}
