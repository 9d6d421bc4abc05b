import type { BenchRow } from './bench-row.d.mts'

export function formatValue(row: BenchRow): string
export function formatRatio(row: BenchRow): string
export function formatMet(row: BenchRow): string
export function tableCells(rows: BenchRow[]): { header: string[]; body: string[][]; numeric: Set<number> }
export function textTable(rows: BenchRow[]): string
export function markdownTable(rows: BenchRow[]): string
export function summary(rows: BenchRow[]): { targets: number; met: number; missed: number; skipped: number }
export function targetsText(rows: BenchRow[], options?: { markdown?: boolean }): string
