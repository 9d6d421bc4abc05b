// Suite 5: disconnect-to-abort latency. A client opens a connection, sends GET /hang, waits until
// the handler runs (it touched the request's taskGroup), then destroys its socket; we time from
// `destroy()` to the group signal's 'abort' event. Sequential, one fresh connection each, client
// and server in this process (one clock). The floor: a bare node:http server that watches
// `res.on('close')` with `!res.writableEnded` itself.
import { request } from 'node:http'
import { adapterMissing, FRAMEWORKS, startApp, startNodeHttp } from '../fixtures/http-apps.mjs'
import { percentile } from '../lib/stats.mjs'

export const name = 'disconnect'
const missing = {}

export async function available() {
  for (const fw of FRAMEWORKS) {
    const why = await adapterMissing(fw)
    if (why) missing[fw] = why
  }
  return Object.keys(missing).length === FRAMEWORKS.length ? Object.values(missing).join('; ') : undefined
}

export function placeholderRows(reason) {
  return [
    {
      suite: name,
      case: 'socket destroyed → group signal aborted',
      impl: 'fastify, express, koa',
      skipped: reason,
      value: Number.NaN,
      ratio: Number.NaN,
    },
  ]
}

function deferred() {
  let resolve
  const promise = new Promise((r) => (resolve = r))
  return { promise, resolve }
}

/** The per-iteration rendezvous between the handler and the client. */
function rendezvous() {
  let current
  return {
    next() {
      current = { entered: deferred(), aborted: deferred() }
      return current
    },
    // Called by the server when the handler runs; resolves when `abort` fires.
    onHang(signal) {
      const it = current
      return new Promise((resolve) => {
        signal.addEventListener(
          'abort',
          () => {
            it.aborted.resolve(performance.now())
            resolve()
          },
          { once: true },
        )
        it.entered.resolve()
      })
    },
  }
}

async function measure(port, meet, n) {
  const latencies = []
  let lost = 0
  for (let i = 0; i < n; i++) {
    const it = meet.next()
    const req = request({ host: '127.0.0.1', port, path: '/hang', agent: false })
    req.on('error', () => {})
    req.end()
    await it.entered.promise
    const t0 = performance.now()
    req.destroy()
    const t1 = await Promise.race([it.aborted.promise, new Promise((r) => setTimeout(r, 2000, undefined))])
    if (t1 === undefined) lost++
    else latencies.push(t1 - t0)
  }
  return { latencies, lost }
}

export async function run({ quick }) {
  const n = quick ? 20 : 1_000
  const rows = []
  const caseLabel = `socket destroyed → signal aborted, ${n.toLocaleString('en-US')} disconnects`

  // Floor: node:http, watching the response ourselves.
  const floorMeet = rendezvous()
  const floor = await startNodeHttp((req, res) => {
    const controller = new AbortController()
    res.on('close', () => {
      if (!res.writableEnded) controller.abort()
    })
    floorMeet.onHang(controller.signal).then(() => res.end())
  })
  let base
  try {
    await measure(floor.port, floorMeet, Math.min(50, n)) // warm-up
    base = await measure(floor.port, floorMeet, n)
  } finally {
    await floor.close()
  }
  const p50 = (x) => percentile(x.latencies, 50)
  const p99 = (x) => percentile(x.latencies, 99)
  rows.push({
    suite: name,
    case: caseLabel,
    impl: "node:http, res 'close' watched by hand (floor): p50",
    value: p50(base) * 1000,
    unit: 'µs',
    ratio: 1,
    vs: 'floor p50',
  })
  rows.push({ suite: name, case: caseLabel, impl: 'node:http floor: p99', value: p99(base) * 1000, unit: 'µs', ratio: 1, vs: 'floor p99' })

  for (const fw of FRAMEWORKS) {
    if (missing[fw]) {
      rows.push({ suite: name, case: caseLabel, impl: fw, skipped: missing[fw], value: Number.NaN, ratio: Number.NaN })
      continue
    }
    const meet = rendezvous()
    const app = await startApp(fw, { adapter: true, hooks: { onHang: (group) => meet.onHang(group.signal) } })
    let result
    try {
      await measure(app.port, meet, Math.min(50, n))
      result = await measure(app.port, meet, n)
    } finally {
      await app.close()
    }
    const note = result.lost > 0 ? ` (${result.lost} never aborted)` : ''
    rows.push({
      suite: name,
      case: caseLabel,
      impl: `${fw} taskGroup.signal: p50${note}`,
      value: p50(result) * 1000,
      unit: 'µs',
      ratio: p50(result) / p50(base),
      vs: 'floor p50',
      target: 'report; all abort',
      met: result.lost === 0,
    })
    rows.push({
      suite: name,
      case: caseLabel,
      impl: `${fw} taskGroup.signal: p99`,
      value: p99(result) * 1000,
      unit: 'µs',
      ratio: p99(result) / p99(base),
      vs: 'floor p99',
    })
  }
  return rows
}
