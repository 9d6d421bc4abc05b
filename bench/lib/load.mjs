// autocannon, in-process, bounded: one load test against one URL.
import autocannon from 'autocannon'

/**
 * @returns {Promise<{ rps: number, total: number, p50: number, p99: number, errors: number }>}
 *   rps: completed 2xx responses per second; p50/p99 latency in ms; errors: socket errors,
 *   timeouts and non-2xx responses (a healthy run has none).
 */
export async function load(url, { connections = 10, duration, amount, overallRate, pipelining = 1 } = {}) {
  // sampleInt 100: autocannon checks for the end every sample; its default (1 s) rounds every run up to whole seconds.
  const opts = { url, connections, pipelining, timeout: 10, sampleInt: 100 }
  if (amount !== undefined) opts.amount = amount
  else opts.duration = duration
  if (overallRate !== undefined) opts.overallRate = overallRate
  const result = await autocannon(opts)
  return {
    rps: result['2xx'] / result.duration,
    total: result['2xx'],
    p50: result.latency.p50,
    p99: result.latency.p99,
    errors: result.errors + result.timeouts + result.non2xx,
    durationS: result.duration,
  }
}
