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

/**
 * `list` in an order of its own for round `round`, so that no variant always follows the same one;
 * seeded (mulberry32), so that a run can be repeated.
 */
export function shuffled(list, round) {
  const out = [...list]
  let seed = round + 0x9e3779b9
  const random = () => {
    seed = (seed + 0x6d2b79f5) | 0
    let t = Math.imul(seed ^ (seed >>> 15), 1 | seed)
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t
    return ((t ^ (t >>> 14)) >>> 0) / 2 ** 32
  }
  for (let i = out.length - 1; i > 0; i--) {
    const j = Math.floor(random() * (i + 1))
    ;[out[i], out[j]] = [out[j], out[i]]
  }
  return out
}
