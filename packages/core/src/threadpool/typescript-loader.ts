// TypeScript workerTask modules in development. Node 22.18+ and 24 strip types by themselves, in
// worker threads too. Under tsx (`node --import tsx`, or the `tsx` command), the threads inherit
// the parent's `--import`, but on Nodes before 22.14 tsx registers its hooks in the main thread
// only (it checks `isMainThread`), so a thread cannot import a `.ts` module. The pool therefore
// tells its threads where tsx's registration API is when the process runs under tsx, and a thread
// registers it itself the first time a module fails with ERR_UNKNOWN_FILE_EXTENSION.

import { readFileSync } from 'node:fs'
import { createRequire } from 'node:module'
import { dirname, join } from 'node:path'
import { pathToFileURL } from 'node:url'

/** A loader flag of the node command line that names tsx (a bare `tsx`, or a path into its package). */
const tsxFlag = /^(?:--import|--loader|--experimental-loader|--require|-r)(?:=|$)/
const namesTsx = (value: string): boolean => value === 'tsx' || value.startsWith('tsx/') || /[\\/]tsx[\\/]/.test(value)

let cached: string | null | undefined

/**
 * The URL of tsx's ESM registration API (`tsx/esm/api`) when this process runs under tsx, else
 * undefined. Read once per process from `process.execArgv` and `NODE_OPTIONS`.
 */
export function tsxApiUrl(): string | undefined {
  if (cached === undefined) cached = findTsxApi() ?? null
  return cached ?? undefined
}

function findTsxApi(): string | undefined {
  const args = [...process.execArgv, ...(process.env.NODE_OPTIONS?.split(/\s+/) ?? [])]
  for (let i = 0; i < args.length; i++) {
    const flag = args[i]!
    if (!tsxFlag.test(flag)) continue
    const value = flag.includes('=') ? flag.slice(flag.indexOf('=') + 1) : (args[++i] ?? '')
    if (!namesTsx(value)) continue
    // Resolve from the loader's own file when given as a path (the `tsx` command), else from the
    // working directory, as node resolved the bare `--import tsx`.
    const from = /[\\/]tsx[\\/]/.test(value) ? value.replace(/^file:\/\//, '') : join(process.cwd(), 'index.js')
    try {
      // The `import` condition of tsx's "./esm/api" export (require.resolve would pick its CommonJS build).
      const manifest = createRequire(from).resolve('tsx/package.json')
      const { exports } = JSON.parse(readFileSync(manifest, 'utf8')) as { exports: Record<string, { import?: { default?: string } }> }
      const target = exports['./esm/api']?.import?.default
      return target === undefined ? undefined : pathToFileURL(join(dirname(manifest), target)).href
    } catch {
      return undefined // not resolvable: the thread reports the original import error
    }
  }
  return undefined
}
