// The tree states the architecture: primitives/ ← threadpool/ ← runtime/, with internal/ and
// errors.ts under all three. This reads every import of packages/core/src and fails on one that
// points upwards.
import { readdirSync, readFileSync } from 'node:fs'
import { dirname, join, posix, relative } from 'node:path'
import { fileURLToPath } from 'node:url'
import { describe, expect, it } from 'vitest'

const src = fileURLToPath(new URL('../src/', import.meta.url))

/** Lower layers may not import higher ones; the barrels (index, adapter) sit on top. */
const rank: Record<string, number> = { internal: 0, errors: 0, primitives: 1, threadpool: 2, runtime: 3, index: 4, adapter: 4 }

function layerOf(file: string): string {
  const first = file.split('/')[0]!
  return first.endsWith('.ts') ? first.slice(0, -3) : first
}

/** Relative specifiers of every static import, re-export and dynamic `import('…')` or `new URL('…')` of a module. */
function importsOf(source: string): string[] {
  const found = source.matchAll(/(?:from\s+|import\s*\(\s*|import\s+|new URL\(\s*)'(\.{1,2}\/[^']+)'/g)
  return [...found].map((match) => match[1]!)
}

/** Every upward import among `files` (paths relative to src, with their sources). */
function upwardImports(files: Record<string, string>): string[] {
  const problems: string[] = []
  for (const [file, source] of Object.entries(files)) {
    for (const specifier of importsOf(source)) {
      const target = posix.normalize(posix.join(posix.dirname(file), specifier)).replace(/\.js$/, '.ts')
      const from = layerOf(file)
      const to = layerOf(target)
      if (rank[to] === undefined) problems.push(`${file} imports ${specifier}, outside the layers`)
      else if (rank[to]! > rank[from]!) problems.push(`${file} imports ${specifier}: ${from}/ must not import ${to}/`)
    }
  }
  return problems
}

function sourceTree(dir: string): Record<string, string> {
  const files: Record<string, string> = {}
  for (const entry of readdirSync(dir, { withFileTypes: true, recursive: true })) {
    if (!entry.isFile() || !entry.name.endsWith('.ts')) continue
    const path = join(entry.parentPath, entry.name)
    files[relative(src, path).split('\\').join('/')] = readFileSync(path, 'utf8')
  }
  return files
}

describe('packages/core/src layout', () => {
  const tree = sourceTree(src)

  it('has the layers as folders, and no module loose at the top but the barrels and errors', () => {
    const top = Object.keys(tree).filter((file) => !file.includes('/'))
    expect(top.sort()).toEqual(['adapter.ts', 'errors.ts', 'index.ts'])
    for (const layer of ['internal', 'primitives', 'threadpool', 'runtime']) {
      expect(
        Object.keys(tree).some((file) => file.startsWith(`${layer}/`)),
        layer,
      ).toBe(true)
    }
  })

  it('imports only point downwards: primitives ← threadpool ← runtime, internal and errors under all', () => {
    expect(upwardImports(tree)).toEqual([])
  })

  it('keeps the code that runs inside a worker thread in threadpool/worker/', () => {
    const entry = Object.keys(tree).filter((file) => /Tinypool\.isWorkerThread|workerData/.test(tree[file]!))
    for (const file of entry) expect(dirname(file), file).toMatch(/^threadpool(\/worker)?$/)
    expect(entry).toContain('threadpool/worker/entry.ts')
  })

  it('reports an upward import (the check itself can fail)', () => {
    const bad = { ...tree, 'primitives/task.ts': `${tree['primitives/task.ts']}\nimport { Runtime } from '../runtime/runtime.js'\n` }
    expect(upwardImports(bad)).toEqual(['primitives/task.ts imports ../runtime/runtime.js: primitives/ must not import runtime/'])
    const alsoBad = { 'threadpool/x.ts': "export { y } from '../runtime/y.js'", 'internal/z.ts': "import { a } from '../primitives/a.js'" }
    expect(upwardImports(alsoBad)).toHaveLength(2)
  })
})
