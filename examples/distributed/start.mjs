/**
 * Distributed newsletter, one command: a Fastify producer and two worker processes sharing one
 * BullMQ queue, on Redis or on PostgreSQL. Starts its own store on a free loopback port — a
 * `redis-server` unless REDIS_URL is set (`apt-get install redis-server`), or with
 * `--store postgres` (or STORE=postgres) a PostgreSQL server in a temporary folder, BullMQ's schema
 * migrated, unless DATABASE_URL is set (`apt-get install postgresql`) — forks the two workers and
 * the producer, prints the URL and curl lines, and prefixes every line of the children's output
 * with their name. On SIGTERM/SIGINT it stops the producer, then the workers (each hands its
 * unfinished jobs back to the queue), then the store, by pid, and exits 0.
 *
 *   node examples/distributed/start.mjs                    # Redis; PORT=3000 by default
 *   node examples/distributed/start.mjs --store postgres   # PostgreSQL
 *
 * The demo's own store is thrown away when it stops, with its jobs. In production, Redis (with
 * persistence) or PostgreSQL runs on its own (see @taskscope/bullmq's README).
 */
import { fork, spawn } from 'node:child_process'
import { once } from 'node:events'
import { createInterface } from 'node:readline'
import { fileURLToPath } from 'node:url'
import { runMigrations } from 'bullmq'
import pg from 'pg'
import { freePort, postgresMissing, startPostgres } from '../postgres/throwaway-postgres.mjs'

const here = (file) => fileURLToPath(new URL(file, import.meta.url))
/** Every child, in the order they stop: the producer first, Redis last. */
const children = []
let stopping

/** Prints each line of a child's stream with its name in front. */
function prefix(stream, name, out) {
  createInterface({ input: stream }).on('line', (line) => out.write(`[${name}] ${line}\n`))
}

/**
 * Registers a child: its output is prefixed (`quiet`: stderr only; `silent`: none); if it dies on
 * its own, everything stops (exit 1). `stop`, when given, is how it is stopped (else SIGTERM).
 */
function adopt(child, name, { quiet = false, silent = false, stop } = {}) {
  const exited = once(child, 'exit')
  const entry = { child, name, exited, stop }
  children.unshift(entry)
  if (quiet || silent) child.stdout?.resume()
  else prefix(child.stdout, name, process.stdout)
  if (silent) child.stderr?.resume()
  else prefix(child.stderr, name, process.stderr)
  exited.then(([code, signal]) => {
    if (stopping === undefined) {
      console.error(`${name} exited on its own (${code ?? signal}): stopping everything`)
      stop(1)
    }
  })
  console.log(`${name}: pid ${child.pid}`)
  return entry
}

async function startRedis() {
  const port = await freePort()
  // detached: a Ctrl-C in the terminal reaches this process only, which stops the children in order.
  const child = spawn('redis-server', ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no'], {
    stdio: ['ignore', 'pipe', 'pipe'],
    detached: true,
  })
  try {
    await once(child, 'spawn')
  } catch (error) {
    throw new Error(`Cannot start redis-server (${error.code}): install it (apt-get install redis-server) or set REDIS_URL`)
  }
  let output = ''
  child.stdout.setEncoding('utf8')
  const onData = (chunk) => (output += chunk)
  child.stdout.on('data', onData)
  const ready = new Promise((resolve, reject) => {
    const check = () => output.includes('Ready to accept connections') && resolve()
    child.stdout.on('data', check)
    child.once('exit', (code) => reject(new Error(`redis-server exited (${code}) before it was ready:\n${output}`)))
  })
  await ready
  child.stdout.removeAllListeners('data')
  const url = `redis://127.0.0.1:${port}`
  adopt(child, 'redis', { quiet: true })
  return url
}

/** A throwaway PostgreSQL (../postgres/throwaway-postgres.mjs) with BullMQ's schema; resolves with its URL. */
async function startPostgresStore() {
  const missing = postgresMissing()
  if (missing) throw new Error(`${missing}, or set DATABASE_URL`)
  const postgres = await startPostgres({ prefix: 'newsletter-pg-' })
  // Stopped last, by pid, its folder removed. Its log stays out of sight.
  adopt(postgres.child, 'postgres', { silent: true, stop: () => postgres.stop() })
  await migrate(postgres.url)
  return postgres.url
}

/** BullMQ's schema, created once at deploy (connections never migrate by themselves). */
async function migrate(url) {
  const pool = new pg.Pool({ connectionString: url, max: 1 })
  const client = await pool.connect()
  try {
    await runMigrations(client)
  } finally {
    client.release()
    await pool.end()
  }
}

/** Forks a node process of the example with `env`; resolves with its ready message. */
async function startNode(file, name, env) {
  const child = fork(here(file), [], {
    env: { ...process.env, ...env, PROCESS_NAME: name },
    stdio: ['ignore', 'pipe', 'pipe', 'ipc'],
    detached: true,
  })
  const entry = adopt(child, name)
  const [message] = await Promise.race([
    once(child, 'message'),
    entry.exited.then(([code, signal]) => Promise.reject(new Error(`${name} exited (${code ?? signal}) before it was ready`))),
  ])
  return message
}

/** Stops every child, in order, by pid: SIGTERM, then SIGKILL if it is still there after 15 s. */
async function stop(code) {
  stopping ??= (async () => {
    for (const { child, name, exited, stop: stopChild } of children) {
      if (stopChild) {
        await stopChild()
        continue
      }
      if (child.exitCode !== null || child.signalCode !== null) continue
      process.kill(child.pid, 'SIGTERM')
      const timer = setTimeout(() => {
        console.error(`${name} did not stop within 15 s: killing it`)
        process.kill(child.pid, 'SIGKILL')
      }, 15_000)
      const [exitCode, signal] = await exited
      clearTimeout(timer)
      // A child that did not stop cleanly is named, so a failed stop says which one and how.
      if ((exitCode !== 0 && name !== 'redis') || signal === 'SIGKILL') {
        console.error(`${name} exited with ${exitCode ?? signal} while stopping`)
        code ||= 1
      }
    }
    process.exitCode = code
  })()
  return stopping
}

process.once('SIGTERM', () => stop(0))
process.once('SIGINT', () => stop(0))

const storeArg = process.argv.indexOf('--store')
const store = (storeArg === -1 ? undefined : process.argv[storeArg + 1]) ?? process.env.STORE ?? 'redis'

try {
  if (store !== 'redis' && store !== 'postgres') throw new Error(`--store must be redis or postgres, not ${store}`)
  let env
  if (store === 'postgres') {
    const databaseUrl = process.env.DATABASE_URL || (await startPostgresStore())
    env = { DATABASE_URL: databaseUrl, REDIS_URL: '' }
  } else {
    env = { REDIS_URL: process.env.REDIS_URL || (await startRedis()), DATABASE_URL: '' }
  }
  const storeName = store === 'postgres' ? `PostgreSQL at ${env.DATABASE_URL}` : `Redis at ${env.REDIS_URL}`
  await Promise.all([startNode('worker.mjs', 'worker-1', env), startNode('worker.mjs', 'worker-2', env)])
  const { url } = await startNode('producer.mjs', 'producer', { ...env, PORT: process.env.PORT ?? '3000' })
  const json = `-H 'content-type: application/json'`
  console.log(`Distributed newsletter: producer listening on ${url}, two workers, ${storeName}
  curl -X POST ${json} -d '{"subject":"Hello","recipients":20}' ${url}/newsletter
  curl ${url}/jobs
  curl ${url}/jobs/<id>
  curl ${url}/jobs/<id>/wait
  curl -X POST ${url}/jobs/<id>/cancel
Ctrl-C stops everything.`)
} catch (error) {
  console.error(error.message)
  await stop(1)
}
