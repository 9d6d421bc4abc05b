#!/usr/bin/env node
// What the diagnostics channels cost per request: server CPU (process.cpuUsage of the server
// process, the load generator runs in another) for a fan-out of three tasks in a request group,
// with nobody subscribed and with a no-op subscriber on every taskscope channel. Interleaved
// rounds, each in a fresh server process; prints the median per case.
//
//   node bench/scripts/channel-cost.mjs [rounds=5] [requests=20000]
import { fork } from 'node:child_process'
import diagnostics from 'node:diagnostics_channel'
import { once } from 'node:events'
import http from 'node:http'
import { createRuntime } from '@taskscope/core'
import { load } from '../lib/load.mjs'

const tracing = ['taskscope:task', 'taskscope:pool.run', 'taskscope:background']
const points = ['taskscope:request.disconnect', 'taskscope:group.cancel', 'taskscope:pool.worker.crash', 'taskscope:shutdown']

async function server(mode) {
  if (mode === 'subscribed') {
    const noop = () => {}
    for (const name of tracing)
      diagnostics.tracingChannel(name).subscribe({ start: noop, end: noop, asyncStart: noop, asyncEnd: noop, error: noop })
    for (const name of points) diagnostics.subscribe(name, noop)
  }
  const runtime = createRuntime({ logger: { info() {}, warn() {}, error() {} } })
  const call = async (value) => value
  const app = http.createServer(async (req, res) => {
    const group = runtime.requestGroup(req, res)
    const values = await Promise.all([group.createTask(() => call(1)), group.createTask(() => call(2)), group.createTask(() => call(3))])
    res.end(JSON.stringify(values))
  })
  app.listen(0, '127.0.0.1')
  await once(app, 'listening')
  let start
  process.on('message', (message) => {
    if (message === 'start') start = process.cpuUsage()
    else if (message === 'stop') {
      const { user, system } = process.cpuUsage(start)
      process.send({ cpu: user + system })
      process.disconnect()
      app.close()
      app.closeAllConnections()
      runtime.close({ timeout: 0 })
    }
  })
  process.send({ port: app.address().port })
}

async function round(mode, requests) {
  const child = fork(new URL(import.meta.url), ['server', mode])
  const [{ port }] = await once(child, 'message')
  const url = `http://127.0.0.1:${port}/`
  await load(url, { connections: 10, amount: 2_000 }) // warm-up
  child.send('start')
  const result = await load(url, { connections: 10, amount: requests })
  child.send('stop')
  const [{ cpu }] = await once(child, 'message')
  await once(child, 'exit')
  if (result.errors > 0) throw new Error(`${result.errors} errors under load`)
  return { cpuPerRequest: cpu / result.total, rps: result.rps }
}

const median = (values) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)]

if (process.argv[2] === 'server') await server(process.argv[3])
else {
  const rounds = Number(process.argv[2] ?? 5)
  const requests = Number(process.argv[3] ?? 20_000)
  const results = { none: [], subscribed: [] }
  for (let i = 0; i < rounds; i++) {
    for (const mode of i % 2 === 0 ? ['none', 'subscribed'] : ['subscribed', 'none']) results[mode].push(await round(mode, requests))
  }
  const base = median(results.none.map((r) => r.cpuPerRequest))
  for (const [mode, runs] of Object.entries(results)) {
    const cpu = median(runs.map((r) => r.cpuPerRequest))
    const rps = median(runs.map((r) => r.rps))
    console.log(
      `${mode.padEnd(10)} ${cpu.toFixed(1)} µs CPU/request (${(cpu / base).toFixed(2)}×), ${Math.round(rps)} req/s, ${rounds} rounds of ${requests}`,
    )
  }
}
