// The hostile-worker matrix (P9 through the `grace` path), shared by the in-process suite (the
// JavaScript module) and a tsx child process (the TypeScript module): a task whose abort listener
// leaves a stray behind is cancelled with each grace, then innocent tasks run on its thread.
import { Threadpool, workerTask } from '@taskscope/core'
import { newFlag, startedOn } from './started-flag.ts'

export const strays = {
  'throwing interval': 'throwingInterval',
  'unhandled rejection': 'unhandledRejection',
  'busy loop': 'busyLoop',
} as const
export type Stray = keyof typeof strays
export const graces = { none: undefined, '0': 0, '25': 25, '250': 250, huge: Infinity } as const
export type Grace = keyof typeof graces

export interface CaseResult {
  stray: Stray
  grace: Grace
  /** The cancelled task's outcome: the name of its error. */
  hostile: string
  /** Each innocent task's outcome: its value, or the name and code of its error. */
  innocent: string[]
  /** ThreadpoolStrayWarnings emitted meanwhile. */
  warnings: number
}

const nameOf = (error: unknown): string => `${(error as Error)?.name} ${(error as { code?: string })?.code ?? ''}`.trim()

/** Runs one case of the matrix on a pool of one thread of its own. */
export async function runCase(module: URL, stray: Stray, grace: Grace): Promise<CaseResult> {
  const pool = new Threadpool({ minThreads: 1, maxThreads: 1 })
  let warnings = 0
  const onWarning = (warning: Error): void => {
    if (warning.name === 'ThreadpoolStrayWarning') warnings++
  }
  process.on('warning', onWarning)
  try {
    const hostile = workerTask<(flag: Int32Array) => Promise<never>>(module, strays[stray])
    const innocent = workerTask<(ms: number) => Promise<string>>(module, 'innocent')
    await pool.run(innocent, [0]) // the thread is up and listening
    const flag = newFlag()
    const controller = new AbortController()
    const ms = graces[grace]
    const running = pool.run(hostile, [flag], ms === undefined ? { signal: controller.signal } : { signal: controller.signal, grace: ms })
    await startedOn(flag)
    controller.abort()
    const outcome = await running.then(() => 'fulfilled', nameOf)
    const innocents: string[] = []
    for (let i = 0; i < 3; i++) innocents.push(await pool.run(innocent, [20]).then(String, nameOf))
    await new Promise((resolve) => setImmediate(resolve)) // warnings are emitted on the next tick
    return { stray, grace, hostile: outcome, innocent: innocents, warnings }
  } finally {
    process.off('warning', onWarning)
    await pool.destroy()
  }
}

/** Every case, one after the other. */
export async function runMatrix(module: URL): Promise<CaseResult[]> {
  const results: CaseResult[] = []
  for (const stray of Object.keys(strays) as Stray[]) {
    for (const grace of Object.keys(graces) as Grace[]) results.push(await runCase(module, stray, grace))
  }
  return results
}
