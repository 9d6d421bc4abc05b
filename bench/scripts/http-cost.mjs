#!/usr/bin/env node
// Where a request's server CPU goes over real HTTP: one server process per variant (each serves one
// route, GET /x, on 127.0.0.1), autocannon in this process, interleaved rounds of short bursts (a new
// order each round), the server's CPU per request (process.cpuUsage of the server process, user +
// system) and, with --gc, what its garbage collector did during each burst (v8.GCProfiler: the
// number and CPU cost of scavenges and mark-compacts, and the bytes each scavenge promoted to the
// old generation). Ratios are medians of per-round ratios (baseline CPU ÷ variant CPU, a
// throughput-equivalent: 0.90× = 11 % more CPU per request). The server runs on this node.
//
//   node bench/scripts/http-cost.mjs --variants=fastify:bare-fanout,fastify:adapter-fanout
//        [--baseline=fastify:bare-fanout] [--rounds=20] [--requests=3000] [--connections=10]
//        [--gc] [--base=DIR] [--cpu-prof=DIR] [--alloc-prof=DIR] [--heap-prof=DIR] [--server-flags='--max-semi-space-size=16'] [--list]
//
// --list prints the variants. Each ratio is against the bare app of the variant's framework on the
// same route when it ran (`koa:adapter-fanout` against `koa:bare-fanout`), else against the first
// variant, unless --baseline names one for all.
// --cpu-prof / --heap-prof run the servers under `--cpu-prof` / `--heap-prof` (sampling heap
// profiler: what is still alive at exit) and write their profiles to DIR when they exit;
// --alloc-prof samples every allocation (1 in 1 KB, garbage included) from start to exit (warm-up
// included) and writes DIR/<variant>.heapprofile (open it in Chrome DevTools, or
// bench/scripts/allocations.mjs).
import { fork } from 'node:child_process'
import { once } from 'node:events'
import { createRequire } from 'node:module'
import { loadavg } from 'node:os'
import path from 'node:path'
import { fileURLToPath, pathToFileURL } from 'node:url'
import { load } from '../lib/load.mjs'
import { median, percentile, shuffled } from '../lib/stats.mjs'

const here = fileURLToPath(import.meta.url)
const fixtures = new URL('../fixtures/http-apps.mjs', import.meta.url)

const { fakeCall, fanoutBare, fanoutGroup } = await import(fixtures)

/** A hand-written handler with cancellation: one AbortController per call, aborted when the response closes unfinished. */
async function fanoutHand(res) {
  const controllers = [new AbortController(), new AbortController(), new AbortController()]
  const onClose = () => {
    if (!res.writableEnded) for (const c of controllers) c.abort()
  }
  res.once('close', onClose)
  const [a, b, c] = await Promise.all(controllers.map((c, i) => fakeCall(i + 1, c.signal)))
  return { a, b, c }
}

async function fastify(plugins = [], hooks = (_app) => {}) {
  const { default: Fastify } = await import('fastify')
  const app = Fastify({ logger: false })
  for (const [plugin, options] of plugins) await app.register(plugin, options)
  hooks(app)
  return app
}

async function fastifyServer(app) {
  await app.listen({ host: '127.0.0.1', port: 0 })
  return { port: app.server.address().port, close: () => app.close() }
}

// The checkout whose @taskscope packages a variant named `…@base` loads (--base=DIR): before and
// after in one interleaved run. DIR holds node_modules/@taskscope/* (package.json and dist) and
// node_modules/fastify-plugin, e.g. copied from a build of the commit to compare with.
let root
const importPackage = (specifier) =>
  root === undefined ? import(specifier) : import(pathToFileURL(createRequire(path.join(root, 'x.js')).resolve(specifier)).href)
async function listen(handler) {
  const { createServer } = await import('node:http')
  const server = createServer(handler)
  server.listen(0, '127.0.0.1')
  await once(server, 'listening')
  return {
    port: server.address().port,
    close: () =>
      new Promise((resolve) => {
        server.close(resolve)
        server.closeAllConnections()
      }),
  }
}

/** Koa with the adapter (as `@base` may load it): /x says hello, or fans out in ctx.taskGroup. */
async function koaApp(fanout) {
  const { default: Koa } = await import('koa')
  const { concurrency } = await importPackage('@taskscope/koa')
  const app = new Koa()
  const c = concurrency()
  app.use(c)
  app.use(async (ctx) => {
    ctx.body = fanout ? await fanoutGroup(ctx.taskGroup) : 'hello world'
  })
  const server = await listen(app.callback())
  const close = async () => {
    await c.close({ timeout: 1000 })
    await server.close()
  }
  return { ...server, close }
}

const taskscope = async () => [(await importPackage('@taskscope/fastify')).concurrencyPlugin]
const requestContext = async () => [(await import('@fastify/request-context')).fastifyRequestContext]

/** The routes of http-apps.mjs's apps (the bench's own), under another path. */
async function benchApp(framework, adapter, route) {
  const { startApp } = await import(fixtures)
  const app = await startApp(framework, { adapter })
  return { ...app, path: route }
}

/**
 * Every variant: what it is, and how to start it. `path` defaults to /x. The ablations add one
 * piece of the adapter's per-request path at a time to the bare app, so the difference names it.
 */
const VARIANTS = {
  // The bench's apps (bench/fixtures/http-apps.mjs), each in a process of its own.
  'fastify:bare-hello': ['bare app, GET /hello', () => benchApp('fastify', false, '/hello')],
  'fastify:adapter-hello': ['adapter installed, unused, GET /hello', () => benchApp('fastify', true, '/hello')],
  'fastify:bare-fanout': ['bare app, Promise.all of 3 calls', () => benchApp('fastify', false, '/fanout')],
  'fastify:adapter-fanout': ['request.taskGroup, 3 × (signal) => …', () => benchApp('fastify', true, '/fanout')],
  'fastify:touch-fanout': ['group created, unused; Promise.all', () => benchApp('fastify', true, '/fanout-touch')],
  'express:bare-hello': ['bare app, GET /hello', () => benchApp('express', false, '/hello')],
  'express:adapter-hello': ['adapter installed, unused, GET /hello', () => benchApp('express', true, '/hello')],
  'express:bare-fanout': ['bare app, Promise.all of 3 calls', () => benchApp('express', false, '/fanout')],
  'express:adapter-fanout': ['req.taskGroup, 3 × (signal) => …', () => benchApp('express', true, '/fanout')],
  'express:touch-fanout': ['group created, unused; Promise.all', () => benchApp('express', true, '/fanout-touch')],
  'koa:bare-hello': ['bare app, GET /hello', () => benchApp('koa', false, '/hello')],
  'koa:adapter-hello': ['adapter installed, unused, GET /hello', () => benchApp('koa', true, '/hello')],
  'koa:bare-fanout': ['bare app, Promise.all of 3 calls', () => benchApp('koa', false, '/fanout')],
  'koa:adapter-fanout': ['ctx.taskGroup, 3 × (signal) => …', () => benchApp('koa', true, '/fanout')],
  'koa:touch-fanout': ['group created, unused; Promise.all', () => benchApp('koa', true, '/fanout-touch')],

  // Fastify, the peer: @fastify/request-context (one AsyncLocalStorage store per request).
  'fastify:reqctx-hello': [
    '@fastify/request-context installed, unused, GET /hello',
    async () => {
      const app = await fastify([await requestContext()])
      app.get('/x', async () => 'hello world')
      return fastifyServer(app)
    },
  ],
  'fastify:reqctx-fanout': [
    '@fastify/request-context installed, unused; Promise.all',
    async () => {
      const app = await fastify([await requestContext()])
      app.get('/x', () => fanoutBare())
      return fastifyServer(app)
    },
  ],
  'fastify:adapter-allfan': [
    'adapter installed, unused; Promise.all',
    async () => {
      const app = await fastify([await taskscope()])
      app.get('/x', () => fanoutBare())
      return fastifyServer(app)
    },
  ],
  'fastify:hand-fanout': [
    'bare app, hand-written: 3 AbortControllers, res close watched',
    async () => {
      const app = await fastify()
      app.get('/x', (_request, reply) => fanoutHand(reply.raw))
      return fastifyServer(app)
    },
  ],
  // The adapter's app built here (so that `@base` can load another build of it).
  'fastify:ts-hello': [
    'adapter installed, unused, GET /hello',
    async () => {
      const app = await fastify([await taskscope()])
      app.get('/x', async () => 'hello world')
      return fastifyServer(app)
    },
  ],
  'fastify:ts-fanout': [
    'request.taskGroup, 3 × (signal) => …',
    async () => {
      const app = await fastify([await taskscope()])
      app.get('/x', (request) => fanoutGroup(request.taskGroup))
      return fastifyServer(app)
    },
  ],
  'fastify:ts-touch': [
    'group created, unused; Promise.all',
    async () => {
      const app = await fastify([await taskscope()])
      app.get('/x', (request) => {
        void request.taskGroup
        return fanoutBare()
      })
      return fastifyServer(app)
    },
  ],
  'koa:ts-hello': ['adapter installed, unused, GET /hello', () => koaApp(false)],
  'koa:ts-fanout': ['ctx.taskGroup, 3 × (signal) => …', () => koaApp(true)],
  // The floor of any middleware: an empty one, in front of the bare app's /hello.
  'express:empty-hello': [
    'bare app + an empty middleware, GET /hello',
    async () => {
      const { default: express } = await import('express')
      const app = express()
      app.use((_req, _res, next) => next())
      app.get('/x', (_req, res) => {
        res.send('hello world')
      })
      return listen(app)
    },
  ],
  'koa:empty-hello': [
    'bare app + an empty async middleware, GET /hello',
    async () => {
      const { default: Koa } = await import('koa')
      const app = new Koa()
      app.use(async (_ctx, next) => {
        await next()
      })
      app.use(async (ctx) => {
        ctx.body = 'hello world'
      })
      return listen(app.callback())
    },
  ],
  // Ablations: the bare fan-out plus one piece.
  'fastify:hook-fanout': [
    'bare + an empty onRequest hook',
    async () => {
      const app = await fastify([], (a) => a.addHook('onRequest', (_q, _r, done) => done()))
      app.get('/x', () => fanoutBare())
      return fastifyServer(app)
    },
  ],
  'fastify:als-fanout': [
    'bare + onRequest: AsyncLocalStorage.run(request, done)',
    async () => {
      const { AsyncLocalStorage } = await import('node:async_hooks')
      const als = new AsyncLocalStorage()
      const app = await fastify([], (a) => a.addHook('onRequest', (request, _r, done) => als.run(request, done)))
      app.get('/x', () => fanoutBare())
      return fastifyServer(app)
    },
  ],
  'fastify:close-fanout': [
    "bare + onRequest: res.on('close') listener",
    async () => {
      const app = await fastify([], (a) =>
        a.addHook('onRequest', (_request, reply, done) => {
          const res = reply.raw
          const onClose = () => {
            if (!res.writableEnded) throw new Error('client gone')
          }
          res.on('close', onClose)
          done()
        }),
      )
      app.get('/x', () => fanoutBare())
      return fastifyServer(app)
    },
  ],
  'fastify:wrap-fanout': [
    'bare + onRoute: handler wrapped, result.then(undefined, onError)',
    async () => {
      const app = await fastify([], (a) =>
        a.addHook('onRoute', (route) => {
          const handler = route.handler
          route.handler = function wrapped(request, reply) {
            const result = handler.call(this, request, reply)
            if (result instanceof Promise) return result.then(undefined, (error) => Promise.reject(error))
            return result
          }
        }),
      )
      app.get('/x', () => fanoutBare())
      return fastifyServer(app)
    },
  ],
  'fastify:rg-fanout': [
    'bare + runtime.requestGroup(req, res) per request (no plugin), unused; Promise.all',
    async () => {
      const { createRuntime } = await importPackage('@taskscope/core')
      const runtime = createRuntime()
      const app = await fastify()
      app.get('/x', (request, reply) => {
        void runtime.requestGroup(request.raw, reply.raw)
        return fanoutBare()
      })
      return fastifyServer(app)
    },
  ],
  'fastify:ro-fanout': [
    'bare + request.routeOptions read 3 times',
    async () => {
      const app = await fastify()
      app.get('/x', (request) => {
        for (let i = 0; i < 3; i++) void request.routeOptions.config
        return fanoutBare()
      })
      return fastifyServer(app)
    },
  ],
  'fastify:group-fanout': [
    'bare + new TaskGroup() per request, 3 × (signal) => …, closed',
    async () => {
      const { TaskGroup } = await import('@taskscope/core')
      const app = await fastify()
      app.get('/x', async () => {
        const group = new TaskGroup()
        try {
          return await fanoutGroup(group)
        } finally {
          await group.close()
        }
      })
      return fastifyServer(app)
    },
  ],
}

function option(name, fallback) {
  const arg = process.argv.find((a) => a.startsWith(`--${name}=`))
  return arg === undefined ? fallback : arg.slice(name.length + 3)
}

// ---- the server process -------------------------------------------------------------------------

/**
 * What the collector did since the last call: counts, CPU µs, bytes promoted by scavenges, and the
 * bytes allocated (heap growth between collections plus what each collection found in use before it).
 */
async function gcWatch() {
  const v8 = await import('node:v8')
  const oldSpaces = new Set(['old_space', 'large_object_space', 'trusted_space', 'trusted_large_object_space', 'code_space'])
  const oldBytes = (snapshot) =>
    snapshot.heapSpaceStatistics.filter((s) => oldSpaces.has(s.spaceName)).reduce((sum, s) => sum + s.spaceUsedSize, 0)
  let profiler = new v8.GCProfiler()
  profiler.start()
  let used = v8.getHeapStatistics().used_heap_size
  return () => {
    const { statistics } = profiler.stop()
    const now = v8.getHeapStatistics().used_heap_size
    profiler = new v8.GCProfiler()
    profiler.start()
    const out = { scavenges: 0, scavengeUs: 0, promoted: 0, majors: 0, majorUs: 0, allocated: 0 }
    for (const gc of statistics) {
      out.allocated += Math.max(0, gc.beforeGC.heapStatistics.usedHeapSize - used)
      used = gc.afterGC.heapStatistics.usedHeapSize
      if (gc.gcType === 'Scavenge' || gc.gcType === 'MinorMarkSweep') {
        out.scavenges++
        out.scavengeUs += gc.cost
        out.promoted += Math.max(0, oldBytes(gc.afterGC) - oldBytes(gc.beforeGC))
      } else {
        out.majors++
        out.majorUs += gc.cost
      }
    }
    out.allocated += Math.max(0, now - used)
    used = now
    return out
  }
}

/**
 * Allocation sampling through the inspector, garbage included (`--heap-prof` keeps only what is
 * still alive when the process exits, which says nothing about short-lived per-request objects).
 * Resolves with a function that writes the profile to `file`.
 */
async function allocationSampling(file) {
  const { Session } = await import('node:inspector/promises')
  const { writeFile } = await import('node:fs/promises')
  const session = new Session()
  session.connect()
  await session.post('HeapProfiler.startSampling', {
    samplingInterval: 1024,
    includeObjectsCollectedByMajorGC: true,
    includeObjectsCollectedByMinorGC: true,
  })
  return async () => {
    const { profile } = await session.post('HeapProfiler.stopSampling')
    await writeFile(file, JSON.stringify(profile))
  }
}

async function server(variant, gc, base, allocFile) {
  if (variant.endsWith('@base')) root = base
  const app = await VARIANTS[variant.replace(/@base$/, '')][1]()
  const writeAllocations = allocFile ? await allocationSampling(allocFile) : undefined
  const gcSince = gc ? await gcWatch() : undefined
  process.on('message', async (message) => {
    if (message === 'cpu') {
      const { user, system } = process.cpuUsage()
      process.send({ cpu: user + system, gc: gcSince?.() })
    } else if (message === 'close') {
      await writeAllocations?.()
      await app.close()
      process.disconnect()
    }
  })
  process.send({ port: app.port, path: app.path ?? '/x' })
}

// ---- the load side --------------------------------------------------------------------------------

async function startServer(variant, { gc, cpuProf, heapProf, allocProf, v8Flags, base }) {
  const name = `${variant.replace(':', '-')}-${Date.now()}`
  const execArgv = [...v8Flags]
  if (cpuProf) execArgv.push('--cpu-prof', '--cpu-prof-interval=100', `--cpu-prof-dir=${cpuProf}`, `--cpu-prof-name=${name}.cpuprofile`)
  if (heapProf)
    execArgv.push('--heap-prof', '--heap-prof-interval=4096', `--heap-prof-dir=${heapProf}`, `--heap-prof-name=${name}.heapprofile`)
  const allocFile = allocProf ? path.join(allocProf, `${name}.heapprofile`) : ''
  const child = fork(here, ['server', variant, gc ? 'gc' : '', base ?? '', allocFile], {
    execArgv,
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
  })
  const [{ port, path: route }] = await once(child, 'message')
  return {
    url: `http://127.0.0.1:${port}${route}`,
    async sample() {
      child.send('cpu')
      const [m] = await once(child, 'message')
      return m
    },
    async close() {
      if (child.exitCode !== null) return
      const exited = once(child, 'exit')
      child.send('close')
      await exited
    },
  }
}

async function burst(server, settings, label) {
  await server.sample() // resets the GC window
  const c0 = await server.sample()
  const result = await load(server.url, settings)
  const c1 = await server.sample()
  if (result.errors > 0) throw new Error(`${label}: ${result.errors} errors under load`)
  const n = result.total
  const gc = c1.gc && {
    scavenges: (c1.gc.scavenges * 1000) / n,
    scavengeUs: c1.gc.scavengeUs / n,
    promoted: c1.gc.promoted / n,
    majors: (c1.gc.majors * 1000) / n,
    majorUs: c1.gc.majorUs / n,
    allocated: c1.gc.allocated / n,
  }
  return { cpu: (c1.cpu - c0.cpu) / n, rps: result.rps, gc }
}

async function main() {
  if (process.argv.includes('--list')) {
    for (const [key, [title]] of Object.entries(VARIANTS)) console.log(`${key.padEnd(26)} ${title}`)
    return
  }
  const rounds = Number(option('rounds', 20))
  const requests = Number(option('requests', 3_000))
  const connections = Number(option('connections', 10))
  const gc = process.argv.includes('--gc')
  const cpuProf = option('cpu-prof', undefined) && path.resolve(option('cpu-prof'))
  const heapProf = option('heap-prof', undefined) && path.resolve(option('heap-prof'))
  const allocProf = option('alloc-prof', undefined) && path.resolve(option('alloc-prof'))
  const base = option('base', undefined) && path.resolve(option('base'))
  const v8Flags = option('server-flags', '').split(' ').filter(Boolean)
  const variants = option('variants', 'fastify:bare-fanout,fastify:adapter-fanout').split(',')
  for (const v of variants) if (!(v.replace(/@base$/, '') in VARIANTS)) throw new Error(`unknown variant ${v} (--list)`)
  const baseline = option('baseline', variants[0])
  const settings = { connections, amount: requests }
  console.log(
    `Node ${process.version}: ${rounds} rounds × ${requests} requests, ${connections} connections; load average ${loadavg()
      .map((x) => x.toFixed(2))
      .join(' ')}`,
  )
  const servers = {}
  try {
    for (const v of variants) servers[v] = await startServer(v, { gc, cpuProf, heapProf, allocProf, v8Flags, base })
    for (const v of variants) await load(servers[v].url, { connections, amount: Math.max(6_000, requests) }) // warm-up
    const results = Object.fromEntries(variants.map((v) => [v, []]))
    for (let r = 0; r < rounds; r++) {
      for (const v of shuffled(variants, r)) results[v].push(await burst(servers[v], settings, v))
    }
    // Each variant's baseline: --baseline if given, else the bare app of its framework on its route
    // (`koa:adapter-fanout` → `koa:bare-fanout`) when that ran, else the first variant.
    const baselineOf = (v) => {
      if (option('baseline', undefined) !== undefined) return baseline
      const [fw, kind] = v.replace(/@base$/, '').split(':')
      const bare = `${fw}:bare-${kind.split('-').at(-1)}`
      return results[bare] === undefined ? baseline : bare
    }
    const header = `${'variant'.padEnd(26)} ${'CPU µs/req'.padStart(10)}  ${'ratio (IQR)'.padEnd(20)} ${'req/s'.padStart(6)}`
    console.log(gc ? `${header}  alloc B/req  scav/1k  scav µs/req  promoted B/req  major/1k  major µs/req` : header)
    for (const v of variants) {
      const m = (f) => median(results[v].map(f))
      const first = results[baselineOf(v)]
      const ratios = results[v].map((x, i) => first[i].cpu / x.cpu)
      const ratio = `${median(ratios).toFixed(3)}× (${percentile(ratios, 25).toFixed(2)}–${percentile(ratios, 75).toFixed(2)})`
      let line = `${v.padEnd(26)} ${m((x) => x.cpu)
        .toFixed(2)
        .padStart(10)}  ${ratio.padEnd(20)} ${String(Math.round(m((x) => x.rps))).padStart(6)}`
      if (gc) {
        // GC figures: the mean over rounds (a burst may hold no major collection at all).
        const mean = (f) => results[v].reduce((s, x) => s + f(x.gc), 0) / results[v].length
        line += `  ${mean((g) => g.allocated)
          .toFixed(0)
          .padStart(11)}  ${mean((g) => g.scavenges)
          .toFixed(2)
          .padStart(7)}  ${mean((g) => g.scavengeUs)
          .toFixed(2)
          .padStart(11)}  ${mean((g) => g.promoted)
          .toFixed(0)
          .padStart(14)}  ${mean((g) => g.majors)
          .toFixed(2)
          .padStart(8)}  ${mean((g) => g.majorUs)
          .toFixed(2)
          .padStart(12)}`
      }
      console.log(line)
    }
    for (const v of variants)
      console.log(`  ${v}: ${VARIANTS[v.replace(/@base$/, '')][0]}${v.endsWith('@base') ? `, as built in ${base}` : ''}`)
    console.log(
      `load average at the end: ${loadavg()
        .map((x) => x.toFixed(2))
        .join(' ')}`,
    )
  } finally {
    for (const s of Object.values(servers)) await s.close()
  }
}

if (process.argv[2] === 'server')
  await server(process.argv[3], process.argv[4] === 'gc', process.argv[5] || undefined, process.argv[6] || undefined)
else await main()
