// Micro-benchmarks on tinybench's `Bench`, used directly (style guide rule 22; never `vitest bench`).
//
// On a shared, noisy machine a single pass per case drifts with whatever else runs, so every case
// is measured in `rounds` interleaved passes (a fresh Bench per round, cases in rotated order, a GC
// between cases when --expose-gc is on) and reported as the median of the per-round medians.
// Ratios are then taken between cases of the same run.
import { Bench } from 'tinybench'
import { collect, median, spread } from './stats.mjs'

/**
 * @param {Array<{ name: string, fn: () => unknown, rounds?: number, options?: object }>} cases
 * @param {{ rounds: number, time: number, iterations?: number, warmupTime?: number, warmupIterations?: number, gcBeforeEach?: boolean }} options
 *   gcBeforeEach: a full GC (untimed) before every call; needs --expose-gc.
 * @returns {Promise<Map<string, { ms: number, rounds: number[], spread: number, samples: number }>>}
 *   per case: the median latency of one call in ms, the per-round medians and their spread.
 */
export async function compare(cases, options) {
  if (cases.some((c) => (c.options?.gcBeforeEach ?? options.gcBeforeEach) && typeof globalThis.gc !== 'function'))
    throw new Error('compare: gcBeforeEach needs the process started with --expose-gc')
  const perRound = new Map(cases.map((c) => [c.name, []]))
  const samples = new Map(cases.map((c) => [c.name, 0]))
  for (let round = 0; round < options.rounds; round++) {
    const order = cases.map((_, i) => cases[(i + round) % cases.length])
    for (const c of order) {
      // A slow case (e.g. Effection at 10,000 tasks) may take part in fewer rounds, with its own budget.
      if (c.rounds !== undefined && round >= c.rounds) continue
      const o = { ...options, ...c.options }
      collect()
      const bench = new Bench({
        name: c.name,
        time: o.time,
        iterations: o.iterations ?? 5,
        warmup: round === 0 || !o.warmupFirstRoundOnly,
        warmupTime: o.warmupTime ?? Math.min(200, o.time / 2),
        warmupIterations: o.warmupIterations ?? 2,
        throws: true,
      })
      // gcBeforeEach: a full GC before every timed call (outside the timing), so each call pays for
      // its own garbage and none of an earlier call's.
      bench.add(c.name, c.fn, o.gcBeforeEach ? { async: true, beforeEach: fullGc } : { async: true })
      await bench.run()
      const result = bench.tasks[0].result
      if (result.state !== 'completed') throw new Error(`${c.name}: tinybench state ${result.state}`)
      perRound.get(c.name).push(result.latency.p50)
      samples.set(c.name, samples.get(c.name) + result.latency.samplesCount)
    }
  }
  const out = new Map()
  for (const [name, values] of perRound) {
    out.set(name, { ms: median(values), rounds: values, spread: spread(values), samples: samples.get(name) })
  }
  return out
}

function fullGc() {
  globalThis.gc()
}

/**
 * The ratio a ÷ b as the median of per-round ratios: both cases ran in the same round, a few
 * hundred ms apart, so slow drift in machine load cancels out.
 */
export function roundRatio(results, a, b) {
  const ra = results.get(a).rounds
  const rb = results.get(b).rounds
  const n = Math.min(ra.length, rb.length)
  return median(ra.slice(0, n).map((x, i) => x / rb[i]))
}
