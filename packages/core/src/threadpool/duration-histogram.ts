// `DurationHistogram`: the run and wait times of a Threadpool's tasks (a native perf_hooks histogram: ~50 ns a record).
import { createHistogram, type RecordableHistogram } from 'node:perf_hooks'
import type { DurationStats } from './types.js'

/** A histogram of durations, recorded in microseconds and reported in milliseconds. */
export class DurationHistogram {
  #histogram: RecordableHistogram = createHistogram()

  record(milliseconds: number): void {
    this.#histogram.record(Math.max(1, Math.round(milliseconds * 1000)))
  }

  summary(): DurationStats {
    const h = this.#histogram
    if (h.count === 0) return { count: 0, mean: 0, p50: 0, p90: 0, p99: 0, max: 0 }
    const ms = (microseconds: number): number => microseconds / 1000
    return {
      count: h.count,
      mean: ms(h.mean),
      p50: ms(h.percentile(50)),
      p90: ms(h.percentile(90)),
      p99: ms(h.percentile(99)),
      max: ms(h.max),
    }
  }
}
