// One teardown registry for every suite: what a test opens (sockets, agents, servers, child
// processes, pending deferreds) registers itself here, and `cleanup()` in `afterEach` releases it.

/**
 * When a teardown runs: clients first (so no server waits on a client), then pending deferreds
 * (so no handler or background task stays blocked), then servers and apps.
 */
export type Phase = 'client' | 'deferred' | 'server'

const PHASES: readonly Phase[] = ['client', 'deferred', 'server']
const registered = new Map<Phase, Set<() => unknown>>(PHASES.map((phase) => [phase, new Set()]))

/** Registers a teardown for `cleanup()`. Returns a function that unregisters it. */
export function track(phase: Phase, dispose: () => unknown): () => void {
  const set = registered.get(phase)!
  set.add(dispose)
  return () => set.delete(dispose)
}

/** Registers `thing.close()` for `cleanup()` (in the server phase unless told otherwise); returns `thing`. */
export function closeLater<T extends { close(): unknown }>(thing: T, phase: Phase = 'server'): T {
  track(phase, () => thing.close())
  return thing
}

/**
 * Runs every registered teardown, phase by phase (those of one phase together), and forgets them.
 * Use it as `afterEach(cleanup)`. Throws an AggregateError naming every teardown that failed.
 */
export async function cleanup(): Promise<void> {
  const errors: unknown[] = []
  for (const phase of PHASES) {
    const set = registered.get(phase)!
    const disposers = [...set]
    set.clear()
    const results = await Promise.allSettled(disposers.map(async (dispose) => dispose()))
    for (const result of results) if (result.status === 'rejected') errors.push(result.reason)
  }
  if (errors.length > 0) throw new AggregateError(errors, 'cleanup failed')
}
