import type { BenchRow } from './bench-row.d.mts'

export interface VersionLine {
  suite: string
  case: string
  impl: string
  vs: string
  target: string
  byVersion: Map<string, BenchRow>
}

export function byVersionDescending(a: string, b: string): number
export function versionsOf(rows: BenchRow[]): string[]
export function versionLabels(versions: string[]): Map<string, string>
export function caseWithoutVersion(text: string, version: string | undefined): string
export function splitDetail(impl: string): { label: string; detail: string }
export function matchKey(row: BenchRow): string
export function mergeByVersion(rows: BenchRow[]): { versions: string[]; lines: VersionLine[] }
