// The shape of one report row, for the TypeScript tests of bench/lib (the bench itself is plain ESM).

export interface BenchRow {
  suite: string
  case: string
  impl: string
  value: number
  ratio: number
  unit?: string
  vs?: string
  target?: string
  met?: boolean | null
  skipped?: string
  spread?: number
  /** The Node version the row was measured on (`process.version`). */
  node?: string
  /** Matches the row across Node versions when its case or measurement names the version. */
  key?: string
}
