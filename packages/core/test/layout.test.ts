// The tree states the architecture: primitives/ ← threadpool/ ← runtime/, with internal/ and
// errors.ts under all three. This reads every import of packages/core/src and fails on one that
// points upwards; it also holds the folders inside the layers to their concept, and the other
// packages to core's two entry points and to their own src.
import { existsSync, readdirSync, readFileSync } from 'node:fs'
import { builtinModules } from 'node:module'
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

  it('has no folder inside a layer but the known ones, each a concept of its own', () => {
    const folders = new Set(Object.keys(tree).map((file) => posix.dirname(file)))
    expect([...folders].sort()).toEqual([
      '.',
      'internal',
      'primitives',
      'runtime',
      'runtime/server-drain',
      'threadpool',
      'threadpool/worker',
    ])
  })

  it('keeps the server drain self-contained: of the runtime it reads only the draining answer', () => {
    const outside = Object.entries(tree)
      .filter(([file]) => file.startsWith('runtime/server-drain/'))
      .flatMap(([file, source]) =>
        importsOf(source)
          .map((specifier) => posix.normalize(posix.join(posix.dirname(file), specifier)))
          .filter((target) => target.startsWith('runtime/') && !target.startsWith('runtime/server-drain/')),
      )
    expect([...new Set(outside)]).toEqual(['runtime/draining-answer.js'])
  })

  it('reports an upward import (the check itself can fail)', () => {
    const bad = { ...tree, 'primitives/task.ts': `${tree['primitives/task.ts']}\nimport { Runtime } from '../runtime/runtime.js'\n` }
    expect(upwardImports(bad)).toEqual(['primitives/task.ts imports ../runtime/runtime.js: primitives/ must not import runtime/'])
    const alsoBad = { 'threadpool/x.ts': "export { y } from '../runtime/y.js'", 'internal/z.ts': "import { a } from '../primitives/a.js'" }
    expect(upwardImports(alsoBad)).toHaveLength(2)
  })
})

const packagesDir = fileURLToPath(new URL('../../', import.meta.url))
const builtins = new Set(builtinModules)

/** Every specifier a module imports, relative or bare (the examples in its comments aside). */
function specifiersOf(source: string): string[] {
  const code = source
    .split('\n')
    .filter((line) => !/^\s*(\*|\/\/|\/\*)/.test(line))
    .join('\n')
  const found = code.matchAll(/(?:from\s+|import\s*\(\s*|import\s+)'([^']+)'/g)
  return [...found].map((match) => match[1]!)
}

/** What is wrong with the imports of one package's src (its files, relative to src, with their sources). */
function packageImportProblems(files: Record<string, string>, declared: ReadonlySet<string>): string[] {
  const problems: string[] = []
  for (const [file, source] of Object.entries(files)) {
    for (const specifier of specifiersOf(source)) {
      if (specifier.startsWith('.')) {
        const target = posix.normalize(posix.join(posix.dirname(file), specifier))
        if (target.startsWith('..')) problems.push(`${file} imports ${specifier}, outside its package's src`)
      } else if (specifier.startsWith('@taskscope/core')) {
        if (specifier !== '@taskscope/core' && specifier !== '@taskscope/core/adapter') {
          problems.push(`${file} imports ${specifier}: only @taskscope/core and @taskscope/core/adapter are public`)
        }
      } else if (!specifier.startsWith('node:') && !builtins.has(specifier)) {
        const name = specifier.startsWith('@') ? specifier.split('/').slice(0, 2).join('/') : specifier.split('/')[0]!
        if (!declared.has(name)) problems.push(`${file} imports ${specifier}, which its package.json does not declare`)
      }
    }
  }
  return problems
}

describe('the packages built on core', () => {
  const names = readdirSync(packagesDir).filter((name) => name !== 'core' && existsSync(join(packagesDir, name, 'src')))

  it.each(names)('%s reads core through its two entry points only, stays in its src, and declares what it imports', (name) => {
    const dir = join(packagesDir, name)
    const pkg = JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8')) as Record<string, Record<string, string> | undefined>
    const declared = new Set([...Object.keys(pkg.dependencies ?? {}), ...Object.keys(pkg.peerDependencies ?? {})])
    const files: Record<string, string> = {}
    for (const entry of readdirSync(join(dir, 'src'), { withFileTypes: true, recursive: true })) {
      if (entry.isFile() && entry.name.endsWith('.ts')) {
        files[relative(join(dir, 'src'), join(entry.parentPath, entry.name)).split('\\').join('/')] = readFileSync(
          join(entry.parentPath, entry.name),
          'utf8',
        )
      }
    }
    expect(Object.keys(files)).toContain('index.ts')
    expect(packageImportProblems(files, declared)).toEqual([])
  })

  it('includes the adapters, @taskscope/nestjs, @taskscope/bullmq and @taskscope/pg', () => {
    expect(names).toEqual(expect.arrayContaining(['bullmq', 'express', 'fastify', 'koa', 'nestjs', 'pg']))
  })

  it('reports a reach into core, out of src, or an undeclared dependency (the check itself can fail)', () => {
    const bad = {
      'a.ts': "import { x } from '@taskscope/core/dist/internal/validation.js'",
      'b.ts': "import { y } from '../../core/src/errors.js'",
      'c.ts': "import Redis from 'ioredis'\nimport { once } from 'node:events'\nimport { z } from './a.js'",
    }
    expect(packageImportProblems(bad, new Set(['bullmq']))).toHaveLength(3)
  })
})
