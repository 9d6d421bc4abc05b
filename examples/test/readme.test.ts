// Every JavaScript and TypeScript snippet of the root README runs as written, from a file, with
// plain `node` (TypeScript through tsx): the tour's snippets run to completion and print what their
// comments say; the web-server apps answer their dashboard route, stay quiet when a client
// disconnects, and shut down on SIGTERM with exit code 0 and nothing on stderr.
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { createServer } from 'node:net'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { type NodeProcess, request, runNode } from '@taskscope/test-support'
import { afterAll, afterEach, describe, expect, it } from 'vitest'

const root = fileURLToPath(new URL('../../', import.meta.url))
const readme = readFileSync(join(root, 'README.md'), 'utf8')
const snippets = [...readme.matchAll(/```(js|ts)\n([\s\S]*?)```/g)].map(([, lang, source], index) => ({
  lang: lang as 'js' | 'ts',
  source: source!,
  index,
}))
const servers = snippets.filter(({ source }) => /\.listen\(/.test(source))
const scripts = snippets.filter((snippet) => !servers.includes(snippet))

// Inside the repository, so the snippets' imports resolve to the workspace packages, as they would
// in a project with them installed.
const dir = mkdtempSync(join(root, 'examples', '.readme-snippets-'))
afterAll(() => rmSync(dir, { recursive: true, force: true }))

/** Writes a snippet to a file and runs it: `node file.mjs`, or `node --import tsx file.mts`. */
function start({ lang, source, index }: (typeof snippets)[number], env: Record<string, string> = {}): NodeProcess {
  const file = join(dir, `snippet-${index}.${lang === 'ts' ? 'mts' : 'mjs'}`)
  writeFileSync(file, source)
  return lang === 'ts' ? runNode('--import', { env, args: ['tsx', file] }) : runNode(file, { env })
}

let running: NodeProcess | undefined
afterEach(async () => {
  await running?.close()
  running = undefined
})

/** A free loopback port (the snippets listen where PORT says). */
async function freePort(): Promise<number> {
  const server = createServer().listen(0, '127.0.0.1')
  await new Promise((resolve) => server.once('listening', resolve))
  const { port } = server.address() as { port: number }
  await new Promise((resolve) => server.close(resolve))
  return port
}

describe('the root README', () => {
  it('has the tour, the TypeScript idiom and one web-server app per framework', () => {
    expect(scripts.length).toBeGreaterThanOrEqual(7)
    expect(scripts.filter(({ lang }) => lang === 'ts')).toHaveLength(1)
    expect(servers.map(({ source }) => /from '(@taskscope\/\w+)'/.exec(source)?.[1])).toEqual([
      '@taskscope/fastify',
      '@taskscope/express',
      '@taskscope/koa',
    ])
  })

  it.each(scripts.map((snippet) => [snippet.source.split('\n', 1)[0], snippet] as const))(
    'runs the snippet that starts with %s, as written',
    { timeout: 30_000 },
    async (_, snippet) => {
      running = start(snippet)
      expect(await running.exited, running.stderr).toBe(0)
      expect(running.stderr).toBe('')
      // What the comments promise, where a snippet prints one thing worth checking.
      if (snippet.source.includes('TaskGroup.run closes the group')) expect(running.stdout).toContain('[ 2, 4, 6 ]')
      if (snippet.lang === 'ts') expect(running.stdout).toBe('[ 1, 2 ]\n')
      if (snippet.source.includes('fibonacci')) expect(running.stdout).toBe('832040\n')
      if (snippet.source.includes('new BackgroundTasks')) expect(running.stdout).toContain('completed: 1')
    },
  )

  it.each(servers.map((snippet) => [/from '(@taskscope\/\w+)'/.exec(snippet.source)![1], snippet] as const))(
    'runs the %s app as written: its dashboard answers, a disconnect is quiet, SIGTERM stops it',
    { timeout: 30_000 },
    async (_, snippet) => {
      // NODE_ENV=development: Express' final handler prints the errors it gets (not under 'test').
      running = start(snippet, { PORT: String(await freePort()), NODE_ENV: 'development' })
      const [, url] = await running.waitFor(/listening on (http:\/\/[\d.:]+)/)
      const dashboard = await request(`${url}/dashboard/2`)
      expect(dashboard).toMatchObject({
        status: 200,
        body: { user: { id: '2', name: 'Ada' }, posts: [{ user: '2', title: 'Hello' }] },
      })
      // A client that gives up while the upstream calls run (300 ms): its tasks are cancelled, and
      // nothing is printed (Express prints a stack unless c.errorHandler() answers it).
      await expect(fetch(`${url}/dashboard/1`, { signal: AbortSignal.timeout(100) })).rejects.toThrow()
      expect((await request(`${url}/dashboard/3`)).status).toBe(200)
      running.child.kill('SIGTERM')
      expect(await running.exited, `its output:\n${running.stdout}\n${running.stderr}`).toBe(0)
      expect(running.stderr).toBe('')
    },
  )
})
