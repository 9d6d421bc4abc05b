// The one table of ratios: as text for the terminal, as Markdown for BENCHMARKS.md.

import { existsSync, readFileSync, writeFileSync } from 'node:fs'
import { arch, cpus, platform, release, totalmem } from 'node:os'
import { mergeByVersion, splitDetail, versionLabels, versionsOf } from './versions.mjs'

const START = '<!-- bench:results:start -->'
const END = '<!-- bench:results:end -->'

/** Formats a measured value with its unit. */
export function formatValue(row) {
  if (row.skipped) return 'n/a'
  const v = row.value
  if (!Number.isFinite(v)) return String(v)
  switch (row.unit) {
    case 'ops/s':
    case 'req/s':
    case 'tasks/s':
      return `${Math.round(v).toLocaleString('en-US')} ${row.unit}`
    case 'MB':
      return `${v.toFixed(2)} MB`
    default:
      return `${v < 10 ? v.toFixed(2) : v < 100 ? v.toFixed(1) : Math.round(v).toLocaleString('en-US')} ${row.unit}`
  }
}

export function formatRatio(row) {
  if (row.skipped || !Number.isFinite(row.ratio)) return 'n/a'
  return `${row.ratio < 10 ? row.ratio.toFixed(2) : row.ratio.toFixed(1)}×`
}

export function formatMet(row) {
  if (row.skipped) return 'not run'
  if (row.met === undefined || row.met === null) return ''
  return row.met ? 'yes' : '**NO**'
}

const columns = ['suite', 'case', 'measurement', 'result', 'ratio', 'vs', 'target', 'met?']

function cells(row) {
  return [
    row.suite,
    row.case,
    row.skipped ? `${row.impl} (${row.skipped})` : row.impl,
    formatValue(row),
    formatRatio(row),
    row.vs ?? '',
    row.target ?? '',
    formatMet(row),
  ]
}

/** Result, ratio and met? of one row as measured on one version ('—' when that version has no such row). */
function versionCells(row) {
  if (row === undefined) return ['—', '—', '—']
  const { detail } = splitDetail(row.impl)
  const result = detail === '' ? formatValue(row) : `${formatValue(row)} (${detail})`
  return [row.skipped ? `${result} (${row.skipped})` : result, formatRatio(row), formatMet(row)]
}

/**
 * The table as header + body rows of cells, and which columns are numbers. One version: the row as
 * measured. Several: one line per measurement, then result, ratio and met? per version, highest first.
 */
export function tableCells(rows) {
  const versions = versionsOf(rows)
  if (versions.length <= 1) return { header: columns, body: rows.map(cells), numeric: new Set([3, 4]) }
  const { lines } = mergeByVersion(rows)
  const labels = versionLabels(versions)
  const header = ['suite', 'case', 'measurement', 'vs', 'target', ...versions.flatMap((v) => [`${labels.get(v)}: result`, 'ratio', 'met?'])]
  const body = lines.map((line) => [
    line.suite,
    line.case,
    line.impl,
    line.vs,
    line.target,
    ...versions.flatMap((v) => versionCells(line.byVersion.get(v))),
  ])
  return { header, body, numeric: new Set(versions.flatMap((_, i) => [5 + 3 * i, 6 + 3 * i])) }
}

/** A plain-text table for the terminal. */
export function textTable(rows) {
  const { header, body: cellRows } = tableCells(rows)
  const body = cellRows.map((r) => r.map((c) => c.replaceAll('**', '')))
  const widths = header.map((h, i) => Math.max(h.length, ...body.map((r) => r[i].length)))
  const line = (r) => r.map((c, i) => c.padEnd(widths[i])).join(' │ ')
  const out = [line(header), widths.map((w) => '─'.repeat(w)).join('─┼─')]
  let suite
  for (const r of body) {
    if (suite !== undefined && r[0] !== suite) out.push(widths.map((w) => '─'.repeat(w)).join('─┼─'))
    suite = r[0]
    out.push(line(r))
  }
  return out.join('\n')
}

/** A Markdown table for BENCHMARKS.md. */
export function markdownTable(rows) {
  const { header, body, numeric } = tableCells(rows)
  const esc = (s) => s.replaceAll('|', '\\|')
  const out = [`| ${header.join(' | ')} |`, `|${header.map((_, i) => (numeric.has(i) ? '---:' : '---')).join('|')}|`]
  for (const r of body) out.push(`| ${r.map(esc).join(' | ')} |`)
  return out.join('\n')
}

/** The machine, as BENCHMARKS.md reports it. */
export function machine() {
  const list = cpus()
  return {
    cpu: `${list[0]?.model ?? 'unknown'}, ${list.length} cores`,
    memory: `${(totalmem() / 2 ** 30).toFixed(1)} GiB`,
    os: `${platform()} ${release()} ${arch()}`,
    node: process.version,
  }
}

export function summary(rows) {
  const withTarget = rows.filter((r) => r.met === true || r.met === false)
  const met = withTarget.filter((r) => r.met).length
  return { targets: withTarget.length, met, missed: withTarget.length - met, skipped: rows.filter((r) => r.skipped).length }
}

/**
 * Targets met and missed, per Node version when the rows span several (highest first):
 * '3 of 5 met, 2 missed' or 'Node 24: 3 of 5 met, 2 missed; Node 20: …'.
 */
export function targetsText(rows, { markdown = false } = {}) {
  const one = (s) =>
    markdown
      ? `${s.met} of ${s.targets} met${s.missed ? `, **${s.missed} missed**` : ''}${s.skipped ? `; ${s.skipped} row(s) not run` : ''}`
      : `${s.met} of ${s.targets} met, ${s.missed} missed; ${s.skipped} row(s) not run`
  const versions = versionsOf(rows)
  if (versions.length <= 1) return one(summary(rows))
  const labels = versionLabels(versions)
  return versions.map((v) => `${labels.get(v)}: ${one(summary(rows.filter((r) => (r.node ?? process.version) === v)))}`).join('; ')
}

const seconds = (ms) => `${(ms / 1000).toFixed(0)} s`

/**
 * Writes the generated part of BENCHMARKS.md between the markers, keeping whatever was written by
 * hand around them (the "What we found" analysis).
 * `nodes`: the Node versions in the order they ran, each `{ version, source, ms, load: { start, end }, suites: [{ name, ms }] }`.
 */
export function writeMarkdown(path, { rows, command, durationMs, nodes }) {
  const m = machine()
  const several = nodes.length > 1
  const labels = versionLabels(nodes.map((n) => n.version))
  const perNode = (text) => (several ? nodes.map((n) => `${labels.get(n.version)}: ${text(n)}`).join('; ') : text(nodes[0]))
  const generated = [
    START,
    `_Generated by \`bench/run.mjs\` on ${new Date().toISOString().slice(0, 16).replace('T', ' ')} UTC; everything between these markers is rewritten on every full run._`,
    '',
    `- **Machine:** ${m.cpu}, ${m.memory} RAM, ${m.os}`,
    several
      ? `- **Node:** ${nodes.map((n) => `${n.version} (${n.source})`).join(', then ')}: every suite on one version, then every suite on the next, never two at once`
      : `- **Node:** ${nodes[0].version}`,
    `- **Load average** (1 min, other work on the machine included): ${perNode((n) => `${n.load.start.toFixed(2)} at the start, ${n.load.end.toFixed(2)} at the end`)}`,
    `- **Command:** \`${command}\` (from the repository root)`,
    `- **Wall time:** ${seconds(durationMs)} (${perNode((n) => `${several ? `${seconds(n.ms)} — ` : ''}${n.suites.map((x) => `${x.name} ${seconds(x.ms)}`).join(', ')}`)})`,
    `- **Targets:** ${targetsText(rows, { markdown: true })}`,
    '',
    'Ratio: the row\'s result divided by the result of the row named in "vs", both measured in the same run',
    several
      ? '(and on the same Node version; for times, lower is better; for throughputs, higher is better). Task-group ratios'
      : '(for times, lower is better; for throughputs, higher is better). Task-group ratios are medians of',
    several ? 'are medians of per-round ratios over interleaved rounds.' : 'per-round ratios over interleaved rounds.',
    '',
    markdownTable(rows),
    END,
  ].join('\n')
  let text
  if (existsSync(path)) {
    const old = readFileSync(path, 'utf8')
    const a = old.indexOf(START)
    const b = old.indexOf(END)
    text = a >= 0 && b > a ? old.slice(0, a) + generated + old.slice(b + END.length) : `${old.trimEnd()}\n\n${generated}\n`
  } else {
    text = `# Benchmarks\n\n${generated}\n\n## What we found\n\n(Analysis to be written after a full run.)\n`
  }
  writeFileSync(path, text)
}
