// P9 through the `grace` path: what a task's abort listener starts belongs to that task. A stray
// from it (a throwing interval, an unhandled rejection) is a ThreadpoolStrayWarning or the task's
// own failure, never a WorkerCrashedError for the next, innocent task on its thread; a busy loop
// in it only delays the task (or gets its thread terminated past the grace). Every stray kind x
// grace none/0/25/250/huge, with a JavaScript and a TypeScript worker module. Real worker threads.
import { execFile } from 'node:child_process'
import { fileURLToPath } from 'node:url'
import { promisify } from 'node:util'
import { describe, expect, it } from 'vitest'
import { type CaseResult, type Grace, graces, runCase, type Stray, strays } from './hostile-matrix.ts'

const cases = (Object.keys(strays) as Stray[]).flatMap((stray) => (Object.keys(graces) as Grace[]).map((grace) => [stray, grace] as const))

function expectNoVictim(result: CaseResult): void {
  // The cancelled task rejects with its cancellation (whatever its listener left behind) ...
  expect(result.hostile).toBe('CancelledError ERR_CANCELLED')
  // ... and every task after it on the thread answers.
  expect(result.innocent).toEqual(['innocent', 'innocent', 'innocent'])
}

describe('P9: an abort listener that leaves a stray behind kills no other task (JavaScript module)', () => {
  const module = new URL('./fixtures/hostile-listeners.mjs', import.meta.url)

  it.each(cases)('%s, grace %s', async (stray, grace) => {
    const result = await runCase(module, stray, grace)
    expectNoVictim(result)
    // A thread that was kept and then saw a stray reports it as a warning naming the task.
    if (stray !== 'busy loop' && (grace === '250' || grace === 'huge')) expect(result.warnings).toBeGreaterThan(0)
    if (stray === 'busy loop' || grace === 'none') expect(result.warnings).toBe(0)
  })
})

describe('P9: an abort listener that leaves a stray behind kills no other task (TypeScript module, under tsx)', () => {
  it('every stray kind and grace', async () => {
    const root = fileURLToPath(new URL('../../../../', import.meta.url))
    const main = fileURLToPath(new URL('./fixtures/hostile-matrix-main.ts', import.meta.url))
    const { stdout } = await promisify(execFile)(process.execPath, ['--import', 'tsx', main], { cwd: root, timeout: 110_000 })
    const results = JSON.parse(stdout.trim().split('\n').at(-1)!) as CaseResult[]
    expect(results.map(({ stray, grace }) => [stray, grace])).toEqual(cases)
    for (const result of results) expectNoVictim(result)
  }, 120_000)
})
