// TypeScript workerTask modules in development, without a build step: under tsx (whose loader the
// pool hands to its threads) and on a Node that strips types. Each case runs a real child process.
import { execFile } from 'node:child_process'
import { existsSync } from 'node:fs'
import { homedir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { promisify } from 'node:util'
import { describe, expect, it } from 'vitest'

const run = promisify(execFile)
const main = fileURLToPath(new URL('./fixtures/typescript-main.ts', import.meta.url))
const root = fileURLToPath(new URL('../../../../', import.meta.url))

/** Node 24 as cached by scripts/with-node.sh (fetched there from the npm registry on first use). */
async function node24(): Promise<{ path?: string; reason?: string }> {
  const path = join(process.env.TASKSCOPE_NODE_CACHE ?? join(homedir(), '.cache/taskscope/node'), '24/package/bin/node')
  if (!existsSync(path)) {
    try {
      await run(join(root, 'scripts/with-node.sh'), ['24', 'node', '--version'], { timeout: 120_000 })
    } catch (error) {
      return { reason: `Node 24 is not available (scripts/with-node.sh 24 failed: ${(error as Error).message.split('\n')[0]})` }
    }
  }
  return existsSync(path) ? { path } : { reason: `Node 24 is not available at ${path}` }
}
const node24Binary = await node24()

describe('P11: TypeScript workerTask modules', () => {
  it('run under tsx (node --import tsx), even where tsx registers itself in the main thread only', async () => {
    const { stdout } = await run(process.execPath, ['--import', 'tsx', main, 'typescript-enum-tasks.ts'], { cwd: root, timeout: 30_000 })
    expect(stdout.trim()).toBe('result: 42')
  })

  it('run under the tsx command', async () => {
    const { stdout } = await run(process.execPath, [join(root, 'node_modules/tsx/dist/cli.mjs'), main, 'typescript-tasks.ts'], {
      cwd: root,
      timeout: 30_000,
    })
    expect(stdout.trim()).toBe('result: 42')
  })

  it.skipIf(node24Binary.path === undefined)(
    `run on a Node that strips types (Node 24)${node24Binary.reason ? ` — skipped: ${node24Binary.reason}` : ''}`,
    async () => {
      const { stdout } = await run(node24Binary.path!, [main, 'typescript-tasks.ts'], { cwd: root, timeout: 30_000 })
      expect(stdout.trim()).toBe('result: 42')
    },
  )
})
