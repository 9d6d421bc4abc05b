/**
 * Distributed newsletter, one command: a Fastify producer and two worker processes sharing one
 * BullMQ queue on Redis. Starts a `redis-server` on a free loopback port unless REDIS_URL is set
 * (it must be on the PATH: `apt-get install redis-server`), forks the two workers and the
 * producer, prints the URL and curl lines, and prefixes every line of the children's output with
 * their name. On SIGTERM/SIGINT it stops the producer, then the workers (each hands its unfinished
 * jobs back to the queue), then Redis, by pid, and exits 0.
 *
 *   node examples/distributed/start.mjs          # PORT=3000 by default
 *
 * The demo's own Redis keeps nothing on disk: its jobs are gone once it stops. In production,
 * Redis runs on its own, with persistence (see @taskscope/bullmq's README).
 */
import { fork, spawn } from 'node:child_process'
import { once } from 'node:events'
import { createServer } from 'node:net'
import { createInterface } from 'node:readline'
import { fileURLToPath } from 'node:url'

const here = (file) => fileURLToPath(new URL(file, import.meta.url))
/** Every child, in the order they stop: the producer first, Redis last. */
const children = []
let stopping

/** Prints each line of a child's stream with its name in front. */
function prefix(stream, name, out) {
  createInterface({ input: stream }).on('line', (line) => out.write(`[${name}] ${line}\n`))
}

/** Registers a child: its output is prefixed (`quiet`: stderr only); if it dies on its own, everything stops (exit 1). */
function adopt(child, name, { quiet = false } = {}) {
  const exited = once(child, 'exit')
  const entry = { child, name, exited }
  children.unshift(entry)
  if (quiet) child.stdout.resume()
  else prefix(child.stdout, name, process.stdout)
  prefix(child.stderr, name, process.stderr)
  exited.then(([code, signal]) => {
    if (stopping === undefined) {
      console.error(`${name} exited on its own (${code ?? signal}): stopping everything`)
      stop(1)
    }
  })
  console.log(`${name}: pid ${child.pid}`)
  return entry
}

async function freePort() {
  const server = createServer().listen(0, '127.0.0.1')
  await once(server, 'listening')
  const { port } = server.address()
  server.close()
  await once(server, 'close')
  return port
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
    for (const { child, name, exited } of children) {
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

try {
  const redisUrl = process.env.REDIS_URL || (await startRedis())
  const env = { REDIS_URL: redisUrl }
  await Promise.all([startNode('worker.mjs', 'worker-1', env), startNode('worker.mjs', 'worker-2', env)])
  const { url } = await startNode('producer.mjs', 'producer', { ...env, PORT: process.env.PORT ?? '3000' })
  const json = `-H 'content-type: application/json'`
  console.log(`Distributed newsletter: producer listening on ${url}, two workers, Redis at ${redisUrl}
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
