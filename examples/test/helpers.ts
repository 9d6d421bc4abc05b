// What only the examples' smoke tests need: importing an example by its path, and running one as a
// child process. Everything generic (deferreds, fetch helpers, `closeLater` + `cleanup`, child
// processes) comes from @taskscope/test-support.
import { rmSync } from 'node:fs'
import { fileURLToPath } from 'node:url'
import { type NodeProcess, runNode } from '@taskscope/test-support'

/** What every example's `start()` resolves with (plus framework objects). */
export interface Started {
  url: string
  close(): Promise<unknown>
  [key: string]: any
}

/** The absolute path of a file under examples/ (e.g. 'dashboard/fastify.mjs'). */
export function examplePath(path: string): string {
  return fileURLToPath(new URL(`../${path}`, import.meta.url))
}

/**
 * Imports an example module by its path under examples/ (e.g. 'dashboard/fastify.mjs'). The
 * examples are plain JavaScript without declarations, so they are typed loosely here.
 */
export function example(path: string): Promise<any> {
  return import(new URL(`../${path}`, import.meta.url).href)
}

/** Runs `node examples/<path>` with `env` (PORT=0 unless given). `close()` kills it if it still runs. */
export function runExample(path: string, env: Record<string, string> = {}): NodeProcess {
  return runNode(examplePath(path), { env: { PORT: '0', ...env } })
}

/** Whether a process with this pid exists. */
export function alive(pid: number): boolean {
  try {
    process.kill(pid, 0)
    return true
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ESRCH') return false
    throw error
  }
}

/**
 * Stops an example run with `runExample` the way a user does (SIGTERM: its shutdown stops the
 * PostgreSQL it started, by pid, and removes its folder), SIGKILL if it is still there after 15 s;
 * then a PostgreSQL it printed (`postgres: pid N`) that is still alive is stopped by pid, and the
 * folder it printed (`(in /tmp/…;`) removed, so that a failed test leaves no server behind.
 */
export async function stopExample(run: NodeProcess): Promise<void> {
  const { child } = run
  if (child.exitCode === null && child.signalCode === null) {
    child.kill('SIGTERM')
    const timer = setTimeout(() => child.kill('SIGKILL'), 15_000)
    await run.exited
    clearTimeout(timer)
  }
  const pid = run.stdout.match(/^postgres: pid (\d+)$/m)?.[1]
  if (pid !== undefined && alive(Number(pid))) {
    process.kill(Number(pid), 'SIGQUIT')
    for (let i = 0; i < 200 && alive(Number(pid)); i++) await new Promise((resolve) => setTimeout(resolve, 25))
  }
  const dir = run.stdout.match(/\(in (\/\S+);/)?.[1]
  if (dir !== undefined) rmSync(dir, { recursive: true, force: true })
}
