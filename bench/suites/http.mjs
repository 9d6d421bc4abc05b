// Suite 3: HTTP overhead, autocannon over loopback. For each framework (and NestJS on Express and
// on Fastify, with TaskscopeModule in place of the adapter), in one server process:
// hello-world bare vs with the adapter installed but unused, and a handler fanning out 3 async
// calls in the request's taskGroup (adapter app) vs the same with a hand-written Promise.all (bare
// app). On Fastify also the closest peer, @fastify/request-context (one AsyncLocalStorage store per
// request), installed but unused: the adapter should cost no more than it does. The load generator runs here, the servers in a child process; the variants alternate
// (ABBA) over rounds and each ratio is the median of per-round ratios.
//
// The targets are judged on throughput (autocannon), as the issue asks. On a shared machine that
// number moves with everybody else's load, so every row also reports the server's CPU time per
// request (process.cpuUsage() of the server process over the load), a steadier second opinion.
import { fork } from 'node:child_process'
import { once } from 'node:events'
import { fileURLToPath } from 'node:url'
import { adapterMissing, HTTP_FRAMEWORKS as FRAMEWORKS } from '../fixtures/http-apps.mjs'
import { load } from '../lib/load.mjs'
import { median, spread } from '../lib/stats.mjs'

export const name = 'http'

const missing = {}

export async function available() {
  for (const fw of FRAMEWORKS) {
    const why = await adapterMissing(fw)
    if (why) missing[fw] = why
  }
  return Object.keys(missing).length === FRAMEWORKS.length ? Object.values(missing).join('; ') : undefined
}

export function placeholderRows(reason) {
  return FRAMEWORKS.map((fw) => skippedRow(fw, reason))
}

function skippedRow(fw, reason) {
  return {
    suite: name,
    case: fw,
    impl: 'hello-world and 3-call fan-out, bare vs adapter',
    skipped: reason,
    value: Number.NaN,
    ratio: Number.NaN,
  }
}

async function startServers(framework) {
  const child = fork(fileURLToPath(new URL('../fixtures/http-server.mjs', import.meta.url)), [framework], {
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
  })
  const [ports] = await once(child, 'message')
  return {
    ports,
    /** The server process's CPU time so far, in µs, and the bytes it allocated so far. */
    async cpu() {
      child.send('cpu')
      const [m] = await once(child, 'message')
      return m
    },
    async close() {
      child.send('close')
      await once(child, 'exit')
    },
  }
}

export async function run({ quick, log }) {
  const duration = quick ? 0.3 : 2
  const rounds = quick ? 1 : 4
  const connections = 10
  const rows = []
  for (const fw of FRAMEWORKS) {
    if (missing[fw]) {
      rows.push(skippedRow(fw, missing[fw]))
      continue
    }
    const servers = await startServers(fw)
    try {
      const url = (which, path) => `http://127.0.0.1:${servers.ports[which]}${path}`
      const variants = {
        helloBare: url('bare', '/hello'),
        helloAdapter: url('adapter', '/hello'),
        fanoutBare: url('bare', '/fanout'),
        fanoutGroup: url('adapter', '/fanout'),
        fanoutTouch: url('adapter', '/fanout-touch'),
        fanoutShared: url('adapter', '/fanout-shared'),
        ...(servers.ports.peer === undefined ? {} : { helloPeer: url('peer', '/hello') }),
      }
      // Warm-up: JIT and connection setup, not measured.
      if (!quick) for (const u of Object.values(variants)) await load(u, { connections, duration: 1 })
      const rps = Object.fromEntries(Object.keys(variants).map((k) => [k, []]))
      const cpu = Object.fromEntries(Object.keys(variants).map((k) => [k, []]))
      const bytes = Object.fromEntries(Object.keys(variants).map((k) => [k, []]))
      const errors = Object.fromEntries(Object.keys(variants).map((k) => [k, 0]))
      for (let r = 0; r < rounds; r++) {
        // ABBA: alternate which of each pair goes first, so drift does not favour one side.
        const pairs =
          r % 2 === 0
            ? ['helloBare', 'helloAdapter', 'helloPeer', 'fanoutGroup', 'fanoutBare', 'fanoutShared', 'fanoutTouch']
            : ['helloPeer', 'helloAdapter', 'helloBare', 'fanoutTouch', 'fanoutShared', 'fanoutBare', 'fanoutGroup']
        const order = pairs.filter((k) => k in variants)
        for (const k of order) {
          const c0 = await servers.cpu()
          // Quick mode counts requests rather than time: on a saturated machine 0.3 s may complete none.
          const result = await load(variants[k], quick ? { connections, amount: 200 } : { connections, duration })
          const c1 = await servers.cpu()
          rps[k].push(result.rps)
          cpu[k].push((c1.cpu - c0.cpu) / Math.max(1, result.total))
          bytes[k].push((c1.allocated - c0.allocated) / Math.max(1, result.total))
          errors[k] += result.errors
        }
      }
      for (const [k, n] of Object.entries(errors)) if (n > 0) log(`${fw} ${k}: ${n} errors/non-2xx`)
      const ratio = (a, b) => median(rps[a].map((x, i) => x / rps[b][i]))
      // CPU per request, as a throughput-equivalent ratio (baseline CPU ÷ this row's CPU).
      const cpuRatio = (a, b) => median(cpu[b].map((x, i) => x / cpu[a][i]))
      // Bytes allocated per request: exact where CPU moves with the load (and what the collector will scavenge).
      const us = (k) => `${median(cpu[k]).toFixed(0)} µs CPU/req, ${(median(bytes[k]) / 1024).toFixed(1)} KB/req`
      const installed = fw.startsWith('nestjs') ? 'TaskscopeModule installed, unused' : 'adapter installed, unused'
      const hello = ratio('helloAdapter', 'helloBare')
      const fan = ratio('fanoutGroup', 'fanoutBare')
      const row = (c, impl, k, r, vs, extra) => ({
        suite: name,
        case: c,
        impl,
        value: median(rps[k]),
        unit: 'req/s',
        ratio: r,
        vs,
        spread: spread(rps[k]),
        cpuUs: median(cpu[k]),
        allocatedBytes: median(bytes[k]),
        errors: errors[k],
        ...extra,
      })
      rows.push(
        row(`${fw}: hello world`, `bare app (${us('helloBare')})`, 'helloBare', 1, 'bare app'),
        row(
          `${fw}: hello world`,
          `${installed} (${us('helloAdapter')}; CPU ratio ${cpuRatio('helloAdapter', 'helloBare').toFixed(2)}×)`,
          'helloAdapter',
          hello,
          'bare app',
          { target: '≥ 0.97×', met: hello >= 0.97, cpuRatio: cpuRatio('helloAdapter', 'helloBare') },
        ),
        ...(variants.helloPeer === undefined
          ? []
          : [
              row(
                `${fw}: hello world`,
                `@fastify/request-context installed, unused (${us('helloPeer')}; CPU ratio ${cpuRatio('helloPeer', 'helloBare').toFixed(2)}×)`,
                'helloPeer',
                ratio('helloPeer', 'helloBare'),
                'bare app',
                { cpuRatio: cpuRatio('helloPeer', 'helloBare') },
              ),
              // Judged on CPU per request: the question is what each costs a request, and req/s moves with the machine's load.
              row(
                `${fw}: hello world`,
                `taskscope vs @fastify/request-context, both installed, unused (CPU ratio ${cpuRatio('helloAdapter', 'helloPeer').toFixed(2)}×)`,
                'helloAdapter',
                ratio('helloAdapter', 'helloPeer'),
                '@fastify/request-context',
                {
                  target: 'CPU ratio ≥ 1.0×',
                  met: cpuRatio('helloAdapter', 'helloPeer') >= 1,
                  cpuRatio: cpuRatio('helloAdapter', 'helloPeer'),
                },
              ),
            ]),
        row(`${fw}: fan-out of 3 async calls`, `hand-written Promise.all, bare app (${us('fanoutBare')})`, 'fanoutBare', 1, 'Promise.all'),
        row(
          `${fw}: fan-out of 3 async calls`,
          `taskGroup.createTask((signal) => …) ×3 (${us('fanoutGroup')}; CPU ratio ${cpuRatio('fanoutGroup', 'fanoutBare').toFixed(2)}×)`,
          'fanoutGroup',
          fan,
          'Promise.all',
          { target: '≥ 0.9×', met: fan >= 0.9, cpuRatio: cpuRatio('fanoutGroup', 'fanoutBare') },
        ),
        row(
          `${fw}: fan-out of 3 async calls`,
          `taskGroup.createTask(() => call(group.signal)) ×3, shared signal (${us('fanoutShared')}; CPU ratio ${cpuRatio('fanoutShared', 'fanoutBare').toFixed(2)}×)`,
          'fanoutShared',
          ratio('fanoutShared', 'fanoutBare'),
          'Promise.all',
          { cpuRatio: cpuRatio('fanoutShared', 'fanoutBare') },
        ),
        row(
          `${fw}: fan-out of 3 async calls`,
          `diagnostic: group created but unused, Promise.all (${us('fanoutTouch')}; CPU ratio ${cpuRatio('fanoutTouch', 'fanoutBare').toFixed(2)}×)`,
          'fanoutTouch',
          ratio('fanoutTouch', 'fanoutBare'),
          'Promise.all',
          { cpuRatio: cpuRatio('fanoutTouch', 'fanoutBare') },
        ),
      )
    } finally {
      await servers.close()
    }
  }
  return rows
}
