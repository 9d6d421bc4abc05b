// What ships: the package's exports map, its declarations, its public surface, and that a plain
// Node ESM consumer (no TypeScript, no bundler) can use it — the README's own tour included.
import { execFile } from 'node:child_process'
import { existsSync, readFileSync } from 'node:fs'
import { fileURLToPath } from 'node:url'
import { promisify } from 'node:util'
import * as core from '@taskscope/core'
import * as adapter from '@taskscope/core/adapter'
import { describe, expect, it } from 'vitest'

const run = promisify(execFile)
const root = fileURLToPath(new URL('../../../', import.meta.url))
const pkgDir = fileURLToPath(new URL('../', import.meta.url))
const pkg = JSON.parse(readFileSync(`${pkgDir}package.json`, 'utf8'))

/** Runs an ES module source with plain `node` from the repository root (workspace resolution). */
async function node(source: string): Promise<string> {
  const { stdout } = await run(process.execPath, ['--input-type=module', '-e', source], { cwd: root, timeout: 30_000 })
  return stdout
}

describe('@taskscope/core package', () => {
  it('exports ".", "./adapter" and "./package.json", ESM only, Node >= 20.19', () => {
    expect(Object.keys(pkg.exports)).toEqual(['.', './adapter', './package.json'])
    expect(pkg.exports['.']).toEqual({ types: './dist/index.d.ts', default: './dist/index.js' })
    expect(pkg.exports['./adapter']).toEqual({ types: './dist/adapter.d.ts', default: './dist/adapter.js' })
    expect(pkg.type).toBe('module')
    expect(pkg.engines.node).toBe('>=20.19')
  })

  it('ships declarations for every module it builds', () => {
    const built = ['index', 'adapter', 'errors', 'primitives/task-group', 'primitives/task', 'primitives/async-lazy']
    for (const file of [...built, 'threadpool/threadpool', 'threadpool/worker/entry', 'runtime/runtime', 'runtime/adapter-kit']) {
      expect(existsSync(`${pkgDir}dist/${file}.js`), file).toBe(true)
      expect(existsSync(`${pkgDir}dist/${file}.d.ts`), file).toBe(true)
    }
  })

  it('"." holds what app code uses', () => {
    expect(Object.keys(core).sort()).toEqual(
      [
        'AsyncEvent',
        'AsyncLazy',
        'BackgroundTask',
        'BackgroundTasks',
        'CancelledError',
        'ClientDisconnectedError',
        'ClosedError',
        'QueueFullError',
        'RequestFinishedError',
        'ShutdownError',
        'Task',
        'TaskGroup',
        'TaskGroupError',
        'Threadpool',
        'TimeoutError',
        'WorkerCrashedError',
        'cancellationInterceptor',
        'cancellationStatus',
        'createBackgroundTask',
        'createRuntime',
        'createTaskGroup',
        'currentSignal',
        'currentTaskGroup',
        'defineTask',
        'errorCodes',
        'firstSuccessful',
        'getThreadpool',
        'isCancellation',
        'runInThreadpool',
        'runUntilFirstComplete',
        'shield',
        'workerTask',
      ].sort(),
    )
  })

  it('"./adapter" holds the kit for adapter authors', () => {
    expect(Object.keys(adapter).sort()).toEqual(
      [
        'alreadyRegisteredError',
        'answerCancellation',
        'asLogger',
        'cancellationStatus',
        'codedError',
        'drainingAnswer',
        'enableCurrentSignal',
        'errorCodes',
        'isTaskDefinition',
        'validateTaskData',
        'validateTaskResult',
        'rejectUncalled',
        'requestBinding',
        'shuttingDownAnswer',
        'validateRouteOptions',
        'watchResponse',
        'withRuntimeHandle',
      ].sort(),
    )
  })

  it('Task, BackgroundTask and Runtime cannot be constructed by user code', () => {
    const construct = (Class: unknown): unknown => Reflect.construct(Class as new () => unknown, [])
    expect(() => construct(core.Task)).toThrow(/Illegal constructor: a Task is made by group.createTask\(\)/)
    expect(() => construct(core.BackgroundTask)).toThrow(/Illegal constructor: a BackgroundTask/)
    const Runtime = core.createRuntime().constructor
    expect(() => construct(Runtime)).toThrow(/Illegal constructor: a Runtime is made by createRuntime\(\)/)
  })

  it('keeps internal members off the public classes (they are keyed by unexported symbols)', async () => {
    await using group = new core.TaskGroup()
    const task = group.createTask(() => 1)
    for (const name of ['abort', 'start', 'error', 'observed', 'whenSettled']) expect(name in task, name).toBe(false)
    expect('taskSettled' in group).toBe(false)
    const job = core.createBackgroundTask(() => 1)
    for (const name of ['observed', 'whenSettled']) expect(name in job, name).toBe(false)
    await job
  })

  it('works from plain Node ESM', async () => {
    const out = await node(`
      import { TaskGroup, TaskGroupError } from '@taskscope/core'
      const group = new TaskGroup()
      group.createTask(async () => { throw new Error('boom') })
      try { await group.close() } catch (err) { console.log(err instanceof TaskGroupError, err.code, err.errors[0].message) }
    `)
    expect(out.trim()).toBe('true ERR_TASK_GROUP boom')
  })

  it("runs the README tour's primitive snippets as written", async () => {
    const readme = readFileSync(`${root}README.md`, 'utf8')
    const tour = readme.slice(readme.indexOf('## A short tour'), readme.indexOf('**Threadpool**'))
    const snippets = [...tour.matchAll(/```js\n([\s\S]*?)```/g)].map((m) => m[1]!)
    expect(snippets.length).toBeGreaterThanOrEqual(5)
    for (const snippet of snippets) await node(snippet)
    expect(await node(snippets[0]!)).toContain('[ 2, 4, 6 ]')
  })
})
