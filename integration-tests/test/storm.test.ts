// A bounded disconnect storm on each framework: GET and POST, keep-alive, fresh connections and
// pipelined pairs, about a third of the requests abandoned mid-request (see helpers/storm.ts).
// Afterwards: no request group left, every handler task that started has finished, no completed
// request counted as a disconnect, no abandoned one missed, and nothing logged at warn or above.
//
// STORM_UNITS sets the size (default 240 units: 320 requests per framework). With --expose-gc the
// storm runs twice and the heap after GC is compared between the end of the first and the end of
// the second (the first also warms the code up). The figures are printed either way:
//   STORM_UNITS=3000 NODE_OPTIONS=--expose-gc npx vitest run --project integration test/storm.test.ts

import { cleanup, collectWarnings } from '@taskscope/test-support'
import { afterEach, describe, expect, it, vi } from 'vitest'
import { frameworks, type StartedApp } from './helpers/servers.ts'
import { heapAfterGc, type StormFigures, storm, stormServer, tally } from './helpers/storm.ts'

afterEach(cleanup)

const UNITS = Number(process.env.STORM_UNITS ?? 240)
const LANES = 6

/** One storm, checked; the test's own records are dropped after, so that they do not count in the heap. */
async function stormOnce(app: StartedApp, server: ReturnType<typeof stormServer>) {
  const expected = await storm(app, server, UNITS, LANES)
  await vi.waitFor(() => expect(app.stats().requests.active).toBe(0))
  const counts = tally(expected, server)
  const logged = app.logs.entries.filter((entry) => ['warn', 'error', 'fatal'].includes(entry.level))
  app.logs.entries.length = 0
  server.outcomes.clear()
  return { counts, logged: logged.map((entry) => entry.text.slice(0, 300)), heap: await heapAfterGc() }
}

describe.each(frameworks)('$name: disconnect storm', (fw) => {
  it(
    `${UNITS} units of work (${(UNITS * 8) / 6} requests, 3 in 8 abandoned): every group ends, no false cancellation, no warning`,
    async () => {
      const { warnings, flush } = collectWarnings()
      const server = stormServer()
      const app = await fw.start({ routes: server.routes })
      const heapAtStart = await heapAfterGc()

      const first = await stormOnce(app, server)
      // With --expose-gc, a second storm of the same size: the heap must not grow with the traffic.
      const second = first.heap === undefined ? undefined : await stormOnce(app, server)
      await flush()

      const runs = second === undefined ? [first.counts] : [first.counts, second.counts]
      const total = (key: keyof typeof first.counts): number => runs.reduce((sum, counts) => sum + counts[key], 0)
      const figures: StormFigures = {
        framework: fw.name,
        requests: total('requests'),
        aborted: total('aborted'),
        falseCancellations: total('falseCancellations'),
        missedDisconnects: total('missedDisconnects'),
        neverEnded: total('neverEnded'),
        groupsLeft: app.stats().requests.active,
        tasksStarted: server.tasks.started,
        tasksFinished: server.tasks.finished,
        warnings: [...first.logged, ...(second?.logged ?? []), ...warnings.map((w) => `${w.name}: ${w.message}`)],
        heapDeltaMB: second === undefined ? undefined : round(second.heap! - first.heap!),
      }
      const warmup = first.heap === undefined ? '' : ` (first storm, warming up: ${round(first.heap - heapAtStart!)} MB)`
      console.log(`storm ${JSON.stringify(figures)}${warmup}`)

      expect(first.counts.aborted / first.counts.requests).toBeGreaterThan(0.3)
      expect(second?.counts ?? first.counts).toEqual(first.counts)
      expect(figures).toMatchObject({
        groupsLeft: 0,
        tasksFinished: figures.tasksStarted,
        falseCancellations: 0,
        missedDisconnects: 0,
        neverEnded: 0,
        warnings: [],
      })
    },
    20_000 + UNITS * 40,
  ) // a larger storm gets the time it needs
})

const round = (mb: number): number => Math.round(mb * 100) / 100
