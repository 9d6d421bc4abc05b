#!/usr/bin/env node
// What the adapter costs a request that never uses it: the server's CPU per request (process.cpuUsage
// of the server process; the load generator, autocannon, runs here in another process) for the bare
// hello-world app vs the same app with the adapter installed and unused, per framework, over real HTTP
// on 127.0.0.1. The apps are bench/fixtures/http-apps.mjs's (Fastify's plugin attaches its server
// itself); Express and Koa also run with `c.attach(server)`, as their READMEs set them up. Each
// variant has a server process of its own (on Node 20, entering an AsyncLocalStorage once slows every
// promise in the process: a bare app must run where no adapter ever did), kept for the whole run;
// after a warm-up, short bursts of load alternate between the variants (in a new order each round),
// and each ratio is the median of per-round ratios (bare CPU ÷ variant CPU: a throughput-equivalent,
// so 0.97× means the adapter costs 3% more CPU per request). The server runs on the same node as
// this script (process.execPath).
//
//   node bench/scripts/adapter-cpu.mjs [--rounds=30] [--requests=4000] [--connections=10]
//        [--frameworks=fastify,express,koa] [--only=fastify:adapter,...] [--aa] [--baseline=DIR]
//        [--cpu-prof=DIR] [--server-flags='--min-semi-space-size=8 --max-semi-space-size=8']
//
// --aa adds a second bare process (what the ratio reads when nothing differs: the noise);
// --baseline=DIR adds the adapter variants as another checkout of this repository (built, with
// its dependencies installed) has them, e.g. `git worktree add ../base main`: before and after
// in the same interleaved run;
// --server-flags passes V8/Node flags to the servers (a fixed new space takes V8's new-space sizing,
// which differs between processes that idle between bursts, out of the comparison);
// Fastify's `peer` variant is the bare app with @fastify/request-context registered, unused;
// --only=fw:variant limits the run to the variants named; --cpu-prof=DIR runs the servers with
// `--cpu-prof` and writes their profiles to DIR when they exit (warm-up included).
import { fork } from 'node:child_process'
import { once } from 'node:events'
import http from 'node:http'
import { createRequire } from 'node:module'
import path from 'node:path'
import { fileURLToPath, pathToFileURL } from 'node:url'
import { FRAMEWORKS } from '../fixtures/http-apps.mjs'
import { load } from '../lib/load.mjs'
import { median, percentile, shuffled } from '../lib/stats.mjs'

const VARIANTS = {
  fastify: ['bare', 'adapter', 'peer'],
  express: ['bare', 'adapter', 'attached'],
  koa: ['bare', 'adapter', 'attached'],
}
const LABELS = {
  bare: 'bare app',
  'bare-again': 'bare app, a second process (the noise: A/A)',
  adapter: 'adapter installed, unused',
  attached: 'adapter installed, unused, c.attach(server)',
  peer: '@fastify/request-context installed, unused',
}

const here = path.resolve(fileURLToPath(new URL('../..', import.meta.url)))

/** Imports `specifier` as the checkout at `root` resolves it (its bench workspace's dependencies). */
function importFrom(root, specifier) {
  return import(pathToFileURL(createRequire(path.join(root, 'bench', 'package.json')).resolve(specifier)).href)
}

/** Express and Koa with the adapter and `c.attach(server)`, one /hello route like http-apps.mjs's. */
async function startAttached(framework, root) {
  let handler
  let c
  if (framework === 'express') {
    const { default: express } = await importFrom(root, 'express')
    const { concurrency } = await importFrom(root, '@taskscope/express')
    const app = express()
    c = concurrency()
    app.use(c)
    app.get('/hello', (_req, res) => {
      res.send('hello world')
    })
    app.use(c.errorHandler())
    handler = app
  } else {
    const { default: Koa } = await importFrom(root, 'koa')
    const { concurrency } = await importFrom(root, '@taskscope/koa')
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

/** The server process of one variant; `root` is the checkout whose adapters (and apps) it runs. */
async function server(framework, variant, root) {
  const { startApp } = await import(pathToFileURL(path.join(root, 'bench', 'fixtures', 'http-apps.mjs')).href)
  const kind = variant.split('@')[0]
  const app =
    kind === 'attached'
      ? await startAttached(framework, root)
      : await startApp(framework, { adapter: kind === 'adapter', peer: kind === 'peer' })
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

const label = (variant) => (variant.endsWith('@baseline') ? `${LABELS[variant.split('@')[0]]}, baseline` : LABELS[variant])

function option(name, fallback) {
  const arg = process.argv.find((a) => a.startsWith(`--${name}=`))
  return arg === undefined ? fallback : arg.slice(name.length + 3)
}

/** One server process per variant, kept for all rounds: its CPU time so far on demand. */
async function startServer(framework, variant, root, cpuProf, serverFlags) {
  const execArgv = cpuProf
    ? [
        ...serverFlags,
        '--cpu-prof',
        '--cpu-prof-interval=50',
        `--cpu-prof-dir=${cpuProf}`,
        `--cpu-prof-name=${framework}-${variant}-${Date.now()}.cpuprofile`,
      ]
    : serverFlags
  const child = fork(new URL(import.meta.url), ['server', framework, variant, root], {
    execArgv,
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
  })
  const [{ port }] = await once(child, 'message')
  return {
    url: `http://127.0.0.1:${port}/hello`,
    /** The server process's CPU time so far, in µs (`{ user, system }`). */
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
  const cpu = c1.user - c0.user + (c1.system - c0.system)
  return { cpu: cpu / result.total, rps: result.rps }
}

async function main() {
  const rounds = Number(option('rounds', 30))
  const requests = Number(option('requests', 4_000))
  const connections = Number(option('connections', 10))
  const frameworks = option('frameworks', FRAMEWORKS.join(',')).split(',')
  const only = option('only', undefined)?.split(',')
  const cpuProf = option('cpu-prof', undefined)
  const serverFlags = option('server-flags', '').split(' ').filter(Boolean)
  const baseline = option('baseline', undefined) && path.resolve(option('baseline'))
  const settings = { requests, connections }
  console.log(`Node ${process.version}: ${rounds} interleaved rounds × ${requests} requests, ${connections} connections, GET /hello`)
  console.log(
    `${'app'.padEnd(8)} ${'variant'.padEnd(56)} ${'CPU µs/req'.padStart(10)} ${'ratio vs bare (IQR)'.padEnd(21)} ${'req/s'.padStart(6)}`,
  )
  for (const fw of frameworks) {
    const adapted = VARIANTS[fw].slice(1)
    const all = [
      'bare',
      ...(process.argv.includes('--aa') ? ['bare-again'] : []),
      ...adapted,
      ...(baseline === undefined ? [] : adapted.filter((v) => v !== 'peer').map((v) => `${v}@baseline`)),
    ]
    const variants = all.filter((v) => only === undefined || only.includes(`${fw}:${v}`))
    const servers = {}
    try {
      for (const v of variants)
        servers[v] = await startServer(fw, v, v.endsWith('@baseline') ? baseline : here, cpuProf && path.resolve(cpuProf), serverFlags)
      // Warm-up: JIT and connection setup, not measured.
      for (const v of variants) await load(servers[v].url, { connections, amount: Math.max(5_000, requests) })
      const results = Object.fromEntries(variants.map((v) => [v, []]))
      for (let r = 0; r < rounds; r++) {
        for (const variant of shuffled(variants, r)) {
          results[variant].push(await burst(servers[variant], settings, `${fw} ${variant}`))
        }
      }
      const bare = results.bare
      // Ratios of bare ÷ variant CPU per request (user + system: their sum is exact, the split between
      // them is sampled by the kernel), per round.
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
          `${fw.padEnd(8)} ${label(variant).padEnd(56)} ${us('cpu')}   ${ratio(variant, 'cpu').padEnd(21)} ${String(rps).padStart(6)}`,
        )
      }
    } finally {
      for (const s of Object.values(servers)) await s.close()
    }
  }
}

if (process.argv[2] === 'server') await server(process.argv[3], process.argv[4], process.argv[5])
else await main()
