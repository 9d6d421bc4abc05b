// Rows measured on several Node versions, put side by side: one line per measurement, one group of
// columns per version, the highest version first.
import { majorOf } from './node-binaries.mjs'

/** Compares two `process.version` strings, the higher one first. */
export function byVersionDescending(a, b) {
  const pa = a.replace(/^v/, '').split('.').map(Number)
  const pb = b.replace(/^v/, '').split('.').map(Number)
  for (let i = 0; i < Math.max(pa.length, pb.length); i++) if ((pa[i] ?? 0) !== (pb[i] ?? 0)) return (pb[i] ?? 0) - (pa[i] ?? 0)
  return 0
}

/** The Node versions the rows were measured on, the highest first (rows without `node` count as this process's). */
export function versionsOf(rows) {
  return [...new Set(rows.map((r) => r.node ?? process.version))].sort(byVersionDescending)
}

/** Column labels per version: 'Node 24', or the full version when two share a major. */
export function versionLabels(versions) {
  const majors = versions.map(majorOf)
  return new Map(
    versions.map((v, i) => [v, majors.indexOf(majors[i]) === majors.lastIndexOf(majors[i]) ? `Node ${majors[i]}` : `Node ${v}`]),
  )
}

const escapeRegExp = (s) => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')

/**
 * A row's case with the version it ran on taken out, e.g. 'v24.22.3, 500 requests' → '500 requests',
 * so that suites which name the version in the case still match across versions.
 */
export function caseWithoutVersion(text, version) {
  if (!version) return text
  const bare = escapeRegExp(version.replace(/^v/, ''))
  const stripped = text
    .replace(new RegExp(`(?:Node(?:\\.js)?\\s*)?v?${bare}(?![\\d.])`, 'g'), '')
    .replace(/\(\s*[,;]?\s*\)/g, '')
    .replace(/\s*([,;])\s*(?=[,;)]|$)/g, '')
    .replace(/^\s*[,;:]\s*/, '')
    .replace(/\s{2,}/g, ' ')
    .trim()
  return stripped === '' ? '—' : stripped
}

/**
 * A measurement's label without the figures some suites put in it, in parentheses ("bare app (26 µs
 * CPU/req)"): `label` names the measurement on every version, `detail` is this run's figures.
 */
export function splitDetail(impl) {
  const details = []
  const label = impl.replace(/\s*\(([^()]*\d[^()]*)\)/g, (_, detail) => {
    details.push(detail)
    return ''
  })
  return { label: label.trim(), detail: details.join('; ') }
}

/** What identifies a measurement across versions: the suite's own `key` when it gives one, else suite + case + measurement + vs. */
export function matchKey(row) {
  if (row.key !== undefined) return `${row.suite}\u0000${row.key}`
  return [row.suite, caseWithoutVersion(row.case, row.node), splitDetail(row.impl).label, row.vs ?? ''].join('\u0000')
}

/**
 * Merges rows from several Node versions into lines, each with the row measured on each version.
 * Order: the highest version's rows as they came; a row only another version has goes after the
 * row it followed there. Two rows with the same key within one version match by occurrence.
 * @returns {{ versions: string[], lines: Array<{ suite: string, case: string, impl: string, vs: string, target: string, byVersion: Map<string, object> }> }}
 */
export function mergeByVersion(rows) {
  const versions = versionsOf(rows)
  const lines = new Map()
  const order = []
  for (const version of versions) {
    const seen = new Map()
    let previous
    for (const row of rows.filter((r) => (r.node ?? process.version) === version)) {
      const base = matchKey(row)
      const n = seen.get(base) ?? 0
      seen.set(base, n + 1)
      const key = `${base}\u0000${n}`
      if (!lines.has(key)) {
        lines.set(key, {
          suite: row.suite,
          case: caseWithoutVersion(row.case, row.node),
          impl: splitDetail(row.impl).label,
          byVersion: new Map(),
        })
        const at = previous === undefined ? -1 : order.indexOf(previous)
        // The first row of a suite no earlier version ran goes after that suite's last line, or at the end.
        const after = at >= 0 ? at : order.findLastIndex((k) => lines.get(k).suite === row.suite)
        order.splice(after >= 0 ? after + 1 : order.length, 0, key)
      }
      lines.get(key).byVersion.set(version, row)
      previous = key
    }
  }
  const labels = versionLabels(versions)
  const shared = (line, field) => {
    const values = versions.filter((v) => line.byVersion.has(v)).map((v) => [v, line.byVersion.get(v)[field] ?? ''])
    const distinct = new Set(values.map(([, value]) => value))
    if (distinct.size <= 1) return values[0]?.[1] ?? ''
    return values.map(([v, value]) => `${labels.get(v)}: ${value || '—'}`).join('; ')
  }
  return {
    versions,
    lines: order.map((key) => {
      const line = lines.get(key)
      return { ...line, vs: shared(line, 'vs'), target: shared(line, 'target') }
    }),
  }
}
