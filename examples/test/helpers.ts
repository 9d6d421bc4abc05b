// What only the examples' smoke tests need: importing an example by its path, and running one as a
// child process. Everything generic (deferreds, fetch helpers, `closeLater` + `cleanup`, child
// processes) comes from @taskscope/test-support.
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
