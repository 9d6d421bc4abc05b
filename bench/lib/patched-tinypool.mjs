// tinypool with bench/tinypool-memory-usage.patch, for the pool suite's "what if upstream took it"
// row: a copy of the installed package's dist in a temporary folder, with the compiled form of the
// patch (the worker no longer calls process.memoryUsage() when maxMemoryLimitBeforeRecycle is unset).
// Undefined when the installed tinypool no longer has the line the patch changes.
import { rmSync } from 'node:fs'
import { cp, mkdtemp, readFile, writeFile } from 'node:fs/promises'
import { createRequire } from 'node:module'
import { tmpdir } from 'node:os'
import { dirname, join } from 'node:path'
import { pathToFileURL } from 'node:url'

let loaded

export function patchedTinypool() {
  loaded ??= load()
  return loaded
}

async function load() {
  const root = dirname(createRequire(import.meta.url).resolve('tinypool/package.json'))
  const copy = await mkdtemp(join(tmpdir(), 'tinypool-patched-'))
  process.once('exit', () => rmSync(copy, { recursive: true, force: true }))
  await cp(root, copy, { recursive: true })
  const worker = join(copy, 'dist/entry/worker.js')
  const source = await readFile(worker, 'utf8')
  const patched = source.replaceAll('usedMemory: memoryUsage().heapUsed', 'usedMemory: void 0')
  if (patched === source) return undefined
  await writeFile(worker, patched)
  return (await import(pathToFileURL(join(copy, 'dist/index.js')).href)).Tinypool
}
