// The benches' smoke test (part of `npm test`): `node bench/run.mjs --quick --json` runs every
// suite with tiny counts, and each suite must produce a finite value and ratio for every row.
// No speed thresholds: quick numbers are cold and judge nothing.
import { fileURLToPath } from 'node:url'
import { type NodeProcess, runNode } from '@taskscope/test-support'
import { afterAll, beforeAll, describe, expect, test } from 'vitest'

interface Row {
  suite: string
  case: string
  impl: string
  value: number
  ratio: number
  skipped?: string
  node: string
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
  nodes: Array<{ version: string; execPath: string }>
  suites: SuiteRun[]
  rows: Row[]
}

const SUITES = ['task-group', 'request-cpu', 'pool', 'http', 'event-loop', 'disconnect', 'memory', 'bullmq', 'postgres']
const runScript = fileURLToPath(new URL('../run.mjs', import.meta.url))
let run: NodeProcess | undefined
afterAll(() => run?.close()) // kills it (by pid) only if it still runs

let report: QuickReport

beforeAll(async () => {
  run = runNode(runScript, { args: ['--quick', '--json'] })
  // run.mjs exits non-zero when a suite failed; the JSON still says which one.
  const code = await run.exited
  if (run.stdout.trim() === '') throw new Error(`bench/run.mjs --quick failed (exit ${code}):\n${run.stderr}`)
  report = JSON.parse(run.stdout) as QuickReport
}, 150_000)

describe('npm run bench:quick', () => {
  test('runs every suite in quick mode', () => {
    expect(report.quick).toBe(true)
    expect(report.suites.map((s) => s.name)).toEqual(SUITES)
  })

  test('without --node, every suite runs on the current node and every row says so', () => {
    expect(report.nodes).toEqual([expect.objectContaining({ version: process.version, execPath: process.execPath })])
    expect(new Set(report.rows.map((r) => r.node))).toEqual(new Set([process.version]))
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
