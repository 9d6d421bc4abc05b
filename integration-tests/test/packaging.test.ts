// What the published packages (core, the three adapters, pg) put in their tarballs (`npm pack --dry-run`): the licence, the
// README, and every source file their source maps and declaration maps point at (so "go to
// definition" lands in the TypeScript source); and the metadata the registry shows.
import { execFile } from 'node:child_process'
import { readFileSync } from 'node:fs'
import path from 'node:path'
import { fileURLToPath } from 'node:url'
import { promisify } from 'node:util'
import { describe, expect, it } from 'vitest'

const root = fileURLToPath(new URL('../../', import.meta.url))
const packages = ['core', 'fastify', 'express', 'koa', 'pg']

/** The paths `npm pack` would put in the package's tarball. */
async function tarballFiles(name: string): Promise<Set<string>> {
  const { stdout } = await promisify(execFile)('npm', ['pack', '--dry-run', '--json', '--workspace', name], { cwd: root, timeout: 60_000 })
  const [report] = JSON.parse(stdout) as Array<{ files: Array<{ path: string }> }>
  return new Set(report!.files.map((file) => file.path))
}

describe.each(packages)('@taskscope/%s tarball', (dir) => {
  const folder = path.join(root, 'packages', dir)
  const pkg = JSON.parse(readFileSync(path.join(folder, 'package.json'), 'utf8'))

  it('names its licence, repository, homepage and issue tracker', () => {
    expect(pkg.license).toBe('MIT')
    expect(pkg.repository).toEqual({ type: 'git', url: 'git+https://github.com/taskscope/taskscope.git', directory: `packages/${dir}` })
    expect(pkg.homepage).toBe(`https://github.com/taskscope/taskscope/tree/main/packages/${dir}#readme`)
    expect(pkg.bugs).toEqual({ url: 'https://github.com/taskscope/taskscope/issues' })
  })

  it('ships LICENSE, README.md, and every file its source and declaration maps point at', async () => {
    const files = await tarballFiles(pkg.name)
    expect(files).toContain('LICENSE')
    expect(files).toContain('README.md')
    expect(readFileSync(path.join(folder, 'LICENSE'), 'utf8')).toMatch(/^MIT License\n\nCopyright \(c\) 2026 the taskscope authors\n/)
    const maps = [...files].filter((file) => file.endsWith('.map'))
    expect(maps.length).toBeGreaterThan(0)
    const missing: string[] = []
    for (const map of maps) {
      const { sources, sourceRoot = '' } = JSON.parse(readFileSync(path.join(folder, map), 'utf8')) as {
        sources: string[]
        sourceRoot?: string
      }
      for (const source of sources) {
        const target = path.posix.normalize(path.posix.join(path.posix.dirname(map), sourceRoot, source))
        if (!files.has(target)) missing.push(`${map} -> ${target}`)
      }
    }
    expect(missing).toEqual([])
  })
})
