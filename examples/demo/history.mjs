/**
 * The demo page's charts, kept by the server: a sample every 500 ms for the last minute (active
 * request groups and their tasks, the pool's queue, running tasks and threads, event-loop delay), so
 * a page opened late draws the minute it missed at once instead of starting empty.
 *
 *   const history = chartHistory(app)
 *   history.since(0)   // [{ seq, at, requests, tasks, queued, running, threads, delayP99, delayMax }]
 *   history.latest()   // the last sample, or undefined
 *   history.close()    // stops sampling
 */
import { monitorEventLoopDelay } from 'node:perf_hooks'

/** Starts sampling `app.concurrency` (its timers never keep the process alive). */
export function chartHistory(app, { every = 500, keep = 120 } = {}) {
  const samples = []
  let seq = 0
  // The event-loop delay within each interval (the runtime's own figures count from its start).
  const resolution = 10
  const delay = monitorEventLoopDelay({ resolution })
  delay.enable()
  // The delay itself, in ms with two decimals: each sample includes the sampling interval.
  const ms = (ns) => Math.round(Math.max(0, ns / 1e6 - resolution) * 100) / 100

  const take = () => {
    const { requests, pool } = app.concurrency.stats()
    const { requests: live } = app.concurrency.inspect()
    const sampled = delay.count > 0
    samples.push({
      seq: ++seq,
      at: Date.now(),
      requests: requests.active,
      tasks: live.reduce((sum, request) => sum + request.tasks.length, 0),
      queued: pool.queued,
      running: pool.running,
      threads: pool.threads,
      delayP99: sampled ? ms(delay.percentile(99)) : 0,
      delayMax: sampled ? ms(delay.max) : 0,
    })
    delay.reset()
    if (samples.length > keep) samples.shift()
  }
  take()
  const timer = setInterval(take, every).unref()

  return {
    /** Samples after sequence number `after`, oldest first. */
    since: (after) => samples.filter((sample) => sample.seq > after),
    latest: () => samples.at(-1),
    close() {
      clearInterval(timer)
      delay.disable()
    },
  }
}
