// The report of a run on several Node versions: rows matched across versions, the highest version
// first. Pure functions on made-up rows (no measurement).
import { describe, expect, test } from 'vitest'
import type { BenchRow } from '../lib/bench-row.d.mts'
import { parseMajors } from '../lib/node-binaries.mjs'
import { markdownTable, targetsText, textTable } from '../lib/report.mjs'
import { caseWithoutVersion, mergeByVersion, splitDetail } from '../lib/versions.mjs'

const row = (node: string, fields: Partial<BenchRow> & Pick<BenchRow, 'case' | 'impl' | 'value' | 'ratio'>): BenchRow => ({
  suite: 'task-group',
  unit: 'µs/task',
  vs: 'hand loop',
  node,
  ...fields,
})

// Node 20 first, as `--node 20,24` would give them; the report must still put Node 24 first.
const rows = [
  row('v20.20.2', { case: '10,000 tasks', impl: 'hand loop', value: 10, ratio: 1 }),
  row('v20.20.2', { case: '10,000 tasks', impl: 'TaskGroup', value: 15, ratio: 1.5, target: '≤ 1.5×', met: true }),
  row('v20.20.2', {
    suite: 'request-cpu',
    case: 'v20.20.2, 500 requests × 1 rounds',
    impl: 'scope entered',
    value: 43,
    ratio: 1.08,
    target: 'report',
  }),
  row('v24.22.3', { case: '10,000 tasks', impl: 'hand loop', value: 3, ratio: 1 }),
  row('v24.22.3', { case: '10,000 tasks', impl: 'TaskGroup', value: 6, ratio: 2, target: '≤ 1.5×', met: false }),
  row('v24.22.3', {
    suite: 'request-cpu',
    case: 'v24.22.3, 500 requests × 1 rounds',
    impl: 'scope entered',
    value: 33,
    ratio: 0.96,
    target: '≤ 1.05×',
    met: true,
  }),
]

describe('a run on several Node versions', () => {
  test('one line per measurement, the highest version first, the version taken out of the case', () => {
    const { versions, lines } = mergeByVersion(rows)
    expect(versions).toEqual(['v24.22.3', 'v20.20.2'])
    expect(lines.map((l) => [l.suite, l.case, l.impl])).toEqual([
      ['task-group', '10,000 tasks', 'hand loop'],
      ['task-group', '10,000 tasks', 'TaskGroup'],
      ['request-cpu', '500 requests × 1 rounds', 'scope entered'],
    ])
    const cpu = lines[2]!
    expect(cpu.byVersion.get('v24.22.3')?.value).toBe(33)
    expect(cpu.byVersion.get('v20.20.2')?.value).toBe(43)
    // Targets that differ between versions are shown per version.
    expect(cpu.target).toBe('Node 24: ≤ 1.05×; Node 20: report')
    expect(lines[1]!.target).toBe('≤ 1.5×')
  })

  test("figures a suite puts in parentheses in the measurement stay out of the match and go to each version's result", () => {
    const http = (node: string, cpu: number) =>
      row(node, {
        suite: 'http',
        case: 'fastify: hello world',
        impl: `adapter installed, unused (${cpu} µs CPU/req)`,
        value: 1000,
        ratio: 0.9,
        unit: 'req/s',
      })
    const lines = mergeByVersion([http('v20.20.2', 37), http('v24.22.3', 26)]).lines
    expect(lines.map((l) => l.impl)).toEqual(['adapter installed, unused'])
    const table = markdownTable([http('v20.20.2', 37), http('v24.22.3', 26)])
    expect(table).toContain('| adapter installed, unused |')
    expect(table).toContain('1,000 req/s (26 µs CPU/req)')
    expect(table).toContain('1,000 req/s (37 µs CPU/req)')
    expect(splitDetail('pool.run(fn), function by source')).toEqual({ label: 'pool.run(fn), function by source', detail: '' })
  })

  test('rows only one version has stay next to the row they followed', () => {
    const extra = row('v20.20.2', { case: '10,000 tasks', impl: 'Node 20 only', value: 1, ratio: 0.1 })
    const { lines } = mergeByVersion([...rows.slice(0, 1), extra, ...rows.slice(1)])
    expect(lines.map((l) => l.impl)).toEqual(['hand loop', 'Node 20 only', 'TaskGroup', 'scope entered'])
    expect(lines[1]!.byVersion.has('v24.22.3')).toBe(false)
  })

  test('a suite-given key matches rows whose case differs otherwise', () => {
    const keyed = [
      row('v24.22.3', { key: 'startup', case: 'cold start on Node 24', impl: 'import', value: 5, ratio: 1 }),
      row('v20.20.2', { key: 'startup', case: 'cold start on Node 20', impl: 'import', value: 9, ratio: 1 }),
    ]
    expect(mergeByVersion(keyed).lines).toHaveLength(1)
  })

  test('the text and Markdown tables: result, ratio and met? per version, Node 24 first', () => {
    const text = textTable(rows)
    const header = text.split('\n')[0]!
    expect(header.indexOf('Node 24: result')).toBeGreaterThan(0)
    expect(header.indexOf('Node 24: result')).toBeLessThan(header.indexOf('Node 20: result'))
    const md = markdownTable(rows).split('\n')
    expect(md[0]).toBe('| suite | case | measurement | vs | target | Node 24: result | ratio | met? | Node 20: result | ratio | met? |')
    expect(md[1]).toBe('|---|---|---|---|---|---:|---:|---|---:|---:|---|')
    expect(md[3]).toBe(
      '| task-group | 10,000 tasks | TaskGroup | hand loop | ≤ 1.5× | 6.00 µs/task | 2.00× | **NO** | 15.0 µs/task | 1.50× | yes |',
    )
    expect(md[4]).toBe(
      '| request-cpu | 500 requests × 1 rounds | scope entered | hand loop | Node 24: ≤ 1.05×; Node 20: report | 33.0 µs/task | 0.96× | yes | 43.0 µs/task | 1.08× |  |',
    )
  })

  test('targets are counted per version', () => {
    expect(targetsText(rows)).toBe('Node 24: 1 of 2 met, 1 missed; 0 row(s) not run; Node 20: 1 of 1 met, 0 missed; 0 row(s) not run')
  })

  test('one version keeps the single table', () => {
    const one = rows.filter((r) => r.node === 'v24.22.3')
    expect(markdownTable(one).split('\n')[0]).toBe('| suite | case | measurement | result | ratio | vs | target | met? |')
    expect(markdownTable(one)).toContain('| request-cpu | v24.22.3, 500 requests × 1 rounds |')
    expect(targetsText(one)).toBe('1 of 2 met, 1 missed; 0 row(s) not run')
  })
})

describe('caseWithoutVersion', () => {
  test.each([
    ['v24.22.3, 40,000 requests × 7 rounds', '40,000 requests × 7 rounds'],
    ['40,000 requests (v24.22.3)', '40,000 requests'],
    ['40,000 requests, Node 24.22.3, 7 rounds', '40,000 requests, 7 rounds'],
    ['v24.22.3', '—'],
    ['bullmq 24.22.30 rows', 'bullmq 24.22.30 rows'],
  ])('%s → %s', (text, expected) => {
    expect(caseWithoutVersion(text, 'v24.22.3')).toBe(expected)
  })
})

describe('--node', () => {
  test('takes a comma-separated list of majors', () => {
    expect(parseMajors('24,20')).toEqual(['24', '20'])
  })

  test.each([
    [undefined, /received nothing/],
    ['24.1.0', /"24.1.0" is not a major/],
    ['24,,20', /"" is not a major/],
    ['24,24', /lists Node 24 twice/],
  ])('rejects %j', (value, message) => {
    expect(() => parseMajors(value as string)).toThrow(message)
  })
})
