#!/usr/bin/env node
// What the adapter costs a request that never uses it: the server's CPU per request (process.cpuUsage
// of the server process; the load generator, autocannon, runs here in another process) for the bare
// hello-world app vs the same app with the adapter installed and unused, per framework, over real HTTP
// on 127.0.0.1. The apps are bench/fixtures/http-apps.mjs's (Fastify's plugin attaches its server
// itself); Express and Koa also run with `c.attach(server)`, as their READMEs set them up. Each
// variant has a server process of its own (on Node 20, entering an AsyncLocalStorage once slows every
// promise in the process: a bare app must run where no adapter ever did), kept for the whole run;
// after a warm-up, short bursts of load alternate between the variants (order rotated each round),
// and each ratio is the median of per-round ratios (bare CPU ÷ variant CPU: a throughput-equivalent,
// so 0.97× means the adapter costs 3% more CPU per request). The server runs on the same node as
// this script (process.execPath).
//
//   node bench/scripts/adapter-cpu.mjs [--rounds=30] [--requests=4000] [--connections=10]
//        [--frameworks=fastify,express,koa] [--only=fastify:adapter,...] [--aa] [--cpu-prof=DIR]
//
// --aa adds a second bare process (what the ratio reads when nothing differs: the noise);
// --only=fw:variant limits the run to the variants named; --cpu-prof=DIR runs the servers with
// `--cpu-prof` and writes their profiles to DIR when they exit (warm-up included).
import { fork } from 'node:child_process'
import { once } from 'node:events'
import http from 'node:http'
import path from 'node:path'
import { FRAMEWORKS, startApp } from '../fixtures/http-apps.mjs'
import { load } from '../lib/load.mjs'
import { median, percentile } from '../lib/stats.mjs'

const VARIANTS = {
  fastify: ['bare', 'adapter'],
  express: ['bare', 'adapter', 'attached'],
  koa: ['bare', 'adapter', 'attached'],
}
const LABELS = {
  bare: 'bare app',
  'bare-again': 'bare app, a second process (the noise: A/A)',
  adapter: 'adapter installed, unused',
  attached: 'adapter installed, unused, c.attach(server)',
}

/** Express and Koa with the adapter and `c.attach(server)`, one /hello route like http-apps.mjs's. */
async function startAttached(framework) {
  let handler
  let c
  if (framework === 'express') {
    const { default: express } = await import('express')
    const { concurrency } = await import('@taskscope/express')
    const app = express()
    c = concurrency()
    app.use(c)
    app.get('/hello', (_req, res) => {
      res.send('hello world')
    })
    app.use(c.errorHandler())
    handler = app
  } else {
    const { default: Koa } = await import('koa')
    const { concurrency } = await import('@taskscope/koa')
    const app = new Koa()
    c = concurrency()
    app.use(c)
    app.use(async (ctx) => {
      if (ctx.path === '/hello') ctx.body = 'hello world'
    })
    handler = app.callback()
  }
  const server = c.attach(http.createServer(handler))
  server.listen(0, '127.0.0.1')
  await once(server, 'listening')
  return { port: server.address().port, close: () => c.close({ timeout: 1000 }) }
}

async function server(framework, variant) {
  const app = variant === 'attached' ? await startAttached(framework) : await startApp(framework, { adapter: variant === 'adapter' })
  process.on('message', async (message) => {
    if (message === 'cpu') {
      const { user, system } = process.cpuUsage()
      process.send({ user, system })
    } else if (message === 'close') {
      await app.close()
      process.disconnect()
    }
  })
  process.send({ port: app.port })
}

function option(name, fallback) {
  const arg = process.argv.find((a) => a.startsWith(`--${name}=`))
  return arg === undefined ? fallback : arg.slice(name.length + 3)
}

/** One server process per variant, kept for all rounds: its CPU time so far on demand. */
async function startServer(framework, variant, cpuProf) {
  const execArgv = cpuProf
    ? [
        '--cpu-prof',
        '--cpu-prof-interval=50',
        `--cpu-prof-dir=${cpuProf}`,
        `--cpu-prof-name=${framework}-${variant}-${Date.now()}.cpuprofile`,
      ]
    : []
  const child = fork(new URL(import.meta.url), ['server', framework, variant], { execArgv, stdio: ['ignore', 'inherit', 'inherit', 'ipc'] })
  const [{ port }] = await once(child, 'message')
  return {
    url: `http://127.0.0.1:${port}/hello`,
    /** The server process's CPU time so far, in µs: `{ user, system }`. */
    async cpu() {
      child.send('cpu')
      const [times] = await once(child, 'message')
      return times
    },
    async close() {
      if (child.exitCode !== null) return
      const exited = once(child, 'exit')
      child.send('close')
      await exited
    },
  }
}

/** CPU µs per request of one burst of load against `server`. */
async function burst(server, { requests, connections }, label) {
  const c0 = await server.cpu()
  const result = await load(server.url, { connections, amount: requests })
  const c1 = await server.cpu()
  if (result.errors > 0) throw new Error(`${label}: ${result.errors} errors under load`)
  const user = (c1.user - c0.user) / result.total
  return { cpu: user + (c1.system - c0.system) / result.total, user, rps: result.rps }
}

async function main() {
  const rounds = Number(option('rounds', 30))
  const requests = Number(option('requests', 4_000))
  const connections = Number(option('connections', 10))
  const frameworks = option('frameworks', FRAMEWORKS.join(',')).split(',')
  const only = option('only', undefined)?.split(',')
  const cpuProf = option('cpu-prof', undefined)
  const settings = { requests, connections }
  console.log(`Node ${process.version}: ${rounds} interleaved rounds × ${requests} requests, ${connections} connections, GET /hello`)
  console.log(
    `${'app'.padEnd(8)} ${'variant'.padEnd(44)} ${'CPU µs'.padStart(8)} ${'ratio vs bare (IQR)'.padEnd(21)} ${'user µs'.padStart(8)} ${'ratio vs bare (IQR)'.padEnd(21)} ${'req/s'.padStart(6)}`,
  )
  for (const fw of frameworks) {
    const all = process.argv.includes('--aa') ? ['bare', 'bare-again', ...VARIANTS[fw].slice(1)] : VARIANTS[fw]
    const variants = all.filter((v) => only === undefined || only.includes(`${fw}:${v}`))
    const servers = {}
    try {
      for (const v of variants) servers[v] = await startServer(fw, v, cpuProf && path.resolve(cpuProf))
      // Warm-up: JIT and connection setup, not measured.
      for (const v of variants) await load(servers[v].url, { connections, amount: Math.max(5_000, requests) })
      const results = Object.fromEntries(variants.map((v) => [v, []]))
      for (let r = 0; r < rounds; r++) {
        for (let i = 0; i < variants.length; i++) {
          const variant = variants[(i + r) % variants.length]
          results[variant].push(await burst(servers[variant], settings, `${fw} ${variant}`))
        }
      }
      const bare = results.bare
      // Ratios of bare ÷ variant, per round: CPU per request (user + system), and user CPU alone
      // (the JavaScript; the system part, the socket calls, is the same work in every variant).
      const ratio = (variant, key) => {
        if (bare === undefined) return ''
        const ratios = results[variant].map((x, i) => bare[i][key] / x[key])
        return `${median(ratios).toFixed(3)}× (${percentile(ratios, 25).toFixed(2)}–${percentile(ratios, 75).toFixed(2)})`
      }
      for (const variant of variants) {
        const us = (key) =>
          median(results[variant].map((x) => x[key]))
            .toFixed(2)
            .padStart(8)
        const rps = Math.round(median(results[variant].map((x) => x.rps)))
        console.log(
          `${fw.padEnd(8)} ${LABELS[variant].padEnd(44)} ${us('cpu')} ${ratio(variant, 'cpu').padEnd(21)} ${us('user')} ${ratio(variant, 'user').padEnd(21)} ${String(rps).padStart(6)}`,
        )
      }
    } finally {
      for (const s of Object.values(servers)) await s.close()
    }
  }
}

if (process.argv[2] === 'server') await server(process.argv[3], process.argv[4])
else await main()
