// The benches' smoke test (part of `npm test`): `node bench/run.mjs --quick --json` runs every
// suite with tiny counts, and each suite must produce a finite value and ratio for every row.
// No speed thresholds: quick numbers are cold and judge nothing.
import { execFile } from 'node:child_process'
import { fileURLToPath } from 'node:url'
import { promisify } from 'node:util'
import { beforeAll, describe, expect, test } from 'vitest'

interface Row {
  suite: string
  case: string
  impl: string
  value: number
  ratio: number
  skipped?: string
}

interface SuiteRun {
  name: string
  ms: number
  skipped?: string
  error?: string
}

interface QuickReport {
  quick: boolean
  durationMs: number
  suites: SuiteRun[]
  rows: Row[]
}

const SUITES = ['task-group', 'pool', 'http', 'event-loop', 'disconnect', 'memory', 'bullmq']
const benchDir = fileURLToPath(new URL('..', import.meta.url))

let report: QuickReport

beforeAll(async () => {
  const { stdout } = await promisify(execFile)(process.execPath, ['run.mjs', '--quick', '--json'], {
    cwd: benchDir,
    maxBuffer: 16 * 1024 * 1024,
    timeout: 120_000,
  }).catch((error: { stdout?: string; stderr?: string; message: string }) => {
    // run.mjs exits non-zero when a suite failed; the JSON still says which one.
    if (error.stdout) return { stdout: error.stdout }
    throw new Error(`bench/run.mjs --quick failed: ${error.message}\n${error.stderr ?? ''}`)
  })
  report = JSON.parse(stdout) as QuickReport
}, 150_000)

describe('npm run bench:quick', () => {
  test('runs every suite in quick mode', () => {
    expect(report.quick).toBe(true)
    expect(report.suites.map((s) => s.name)).toEqual(SUITES)
  })

  for (const name of SUITES) {
    test(`suite ${name}: runs and gives a finite ratio for every row`, (ctx) => {
      const suite = report.suites.find((s) => s.name === name)!
      expect(suite.error).toBeUndefined()
      // A suite whose dependency is not built yet says so instead of inventing numbers.
      if (suite.skipped) ctx.skip(`${name}: ${suite.skipped}`)
      const rows = report.rows.filter((r) => r.suite === name && !r.skipped)
      expect(rows.length).toBeGreaterThan(0)
      for (const row of rows) {
        expect(Number.isFinite(row.value), `${row.case} / ${row.impl}: value ${row.value}`).toBe(true)
        expect(Number.isFinite(row.ratio), `${row.case} / ${row.impl}: ratio ${row.ratio}`).toBe(true)
      }
    })
  }
})
