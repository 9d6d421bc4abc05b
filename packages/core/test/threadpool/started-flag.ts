// Shared by the threadpool suites: a flag a pool task raises once it runs (with its thread id),
// and a CPU-bound task that raises it. `spin` is shipped to the threads by source.

/** A flag shared with a worker: [0] = 1 once the task started, [1] = its thread id. */
export const newFlag = (): Int32Array => new Int32Array(new SharedArrayBuffer(8))

/** Resolves with the thread id once the task behind `flag` started. */
export async function startedOn(flag: Int32Array): Promise<number> {
  const waitAsync = (Atomics as unknown as { waitAsync(a: Int32Array, i: number, v: number): { async: boolean; value: unknown } }).waitAsync
  const wait = waitAsync(flag, 0, 0)
  if (wait.async) await wait.value
  return Atomics.load(flag, 1)
}

/** Busy for `ms` without yielding (it cannot see a signal: only terminating its thread stops it); reports start through `flag`. */
export function spin(flag: Int32Array, ms: number): string {
  Atomics.store(flag, 1, process.getBuiltinModule('node:worker_threads').threadId)
  Atomics.store(flag, 0, 1)
  Atomics.notify(flag, 0)
  const end = Date.now() + ms
  while (Date.now() < end);
  return 'finished'
}
