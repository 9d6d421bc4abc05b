// Waiting on a store that may not answer (Redis killed, frozen, restarting): every wait of a
// shutdown is bounded, and what did not finish in time is forced.

/** True when `promise` settles within `ms` (Infinity: whenever it does); its rejection is handed to `onError`. Never keeps the process alive. */
export async function within(promise: Promise<unknown>, ms: number, onError?: (error: unknown) => void): Promise<boolean> {
  const settled = promise.then(
    () => true,
    (error) => {
      onError?.(error)
      return true
    },
  )
  if (ms === Infinity) return settled
  let timer: NodeJS.Timeout | undefined
  const late = new Promise<boolean>((resolve) => {
    timer = setTimeout(resolve, Math.max(0, ms), false)
    timer.unref()
  })
  try {
    return await Promise.race([settled, late])
  } finally {
    clearTimeout(timer)
  }
}

/** How long closing the connections may take once the jobs are handed back, at most (ms). */
export const closeAllowanceMs = 1000
