// Suite 4: event-loop protection. p99 latency of a trivial route (Fastify with the adapter) under a
// steady light load, alone, then while CPU-heavy requests (20 ms of CPU each) run inline on the
// event loop, then while the same requests are offloaded to the adapter's threadpool.
import { fork } from 'node:child_process'
import { once } from 'node:events'
import { fileURLToPath } from 'node:url'
import { adapterMissing } from '../fixtures/http-apps.mjs'
import { load } from '../lib/load.mjs'

export const name = 'event-loop'
const FRAMEWORK = 'fastify'

export async function available() {
  return adapterMissing(FRAMEWORK)
}

export function placeholderRows(reason) {
  return [
    {
      suite: name,
      case: `${FRAMEWORK}: trivial route p99`,
      impl: 'CPU-heavy requests inline vs offloaded',
      skipped: reason,
      value: Number.NaN,
      ratio: Number.NaN,
    },
  ]
}

export async function run({ quick }) {
  const child = fork(fileURLToPath(new URL('../fixtures/http-server.mjs', import.meta.url)), [FRAMEWORK], {
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
  })
  const [ports] = await once(child, 'message')
  const base = `http://127.0.0.1:${ports.adapter}`
  const duration = quick ? 0.5 : 4
  // The light load: 4 connections at a fixed 200 req/s overall, so its latency measures waiting
  // for the event loop, not saturation. The heavy load: 2 connections as fast as they go.
  const light = { connections: 4, overallRate: 200, duration }
  const heavy = { connections: 2, duration }
  try {
    await load(`${base}/hello`, { connections: 4, duration: quick ? 0.1 : 1 })
    await load(`${base}/heavy-pool`, { connections: 2, duration: quick ? 0.1 : 1 }) // starts the pool's thread
    if (!quick) await load(`${base}/heavy-inline`, { connections: 2, duration: 1 })
    const idle = await load(`${base}/hello`, light)
    const [inlineLight, inlineHeavy] = await Promise.all([load(`${base}/hello`, light), load(`${base}/heavy-inline`, heavy)])
    const [poolLight, poolHeavy] = await Promise.all([load(`${base}/hello`, light), load(`${base}/heavy-pool`, heavy)])
    const c = `${FRAMEWORK}: p99 of GET /hello at 200 req/s`
    // autocannon's latencies are whole milliseconds: floor at 1 ms so that ratios stay finite.
    const p = (x) => Math.max(1, x.p99)
    return [
      { suite: name, case: c, impl: 'no other load', value: idle.p99, unit: 'ms', ratio: 1, vs: 'no other load' },
      {
        suite: name,
        case: c,
        impl: `+ 20 ms CPU requests inline (${Math.round(inlineHeavy.rps)} heavy req/s)`,
        value: inlineLight.p99,
        unit: 'ms',
        ratio: p(inlineLight) / p(idle),
        vs: 'no other load',
      },
      {
        suite: name,
        case: c,
        impl: `+ same requests on app.threadpool (${Math.round(poolHeavy.rps)} heavy req/s)`,
        value: poolLight.p99,
        unit: 'ms',
        ratio: p(poolLight) / p(idle),
        vs: 'no other load',
      },
      {
        suite: name,
        case: c,
        impl: 'inline p99 ÷ offloaded p99',
        value: inlineLight.p99,
        unit: 'ms',
        ratio: p(inlineLight) / p(poolLight),
        vs: 'offloaded',
        target: 'report (> 1: offloading helps)',
      },
    ]
  } finally {
    child.send('close')
    await once(child, 'exit')
  }
}
