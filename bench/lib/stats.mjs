// Small statistics helpers shared by the suites. Every ratio in the report is a ratio of two
// numbers measured in the same process and the same run, usually medians over interleaved rounds.

/** Median of a non-empty list of numbers. */
export function median(values) {
  return percentile(values, 50)
}

/** Nearest-rank percentile (p in 0..100) of a list of numbers. */
export function percentile(values, p) {
  if (values.length === 0) return Number.NaN
  const sorted = Float64Array.from(values).sort()
  const rank = Math.ceil((p / 100) * sorted.length)
  return sorted[Math.min(sorted.length - 1, Math.max(0, rank - 1))]
}

/** Relative spread of a list: (max - min) / median, as a fraction. */
export function spread(values) {
  if (values.length < 2) return 0
  return (Math.max(...values) - Math.min(...values)) / median(values)
}

/** Runs the garbage collector when the process was started with --expose-gc. */
export function collect() {
  if (typeof globalThis.gc === 'function') {
    globalThis.gc()
    globalThis.gc()
  }
}

/** Resolves after `ms` milliseconds. */
export const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms))
