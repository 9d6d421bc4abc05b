/**
 * Cancellation that reaches the database, one command: a Fastify app whose slow report runs on a
 * `cancellable()` PostgreSQL pool. Abandon the request (Ctrl-C on curl) and the query stops on the
 * server: the app logs the backend that ran it going idle, seen from another connection
 * (pg_stat_activity). Starts its own throwaway PostgreSQL (`initdb` into a temporary folder, a free
 * loopback port; as the `postgres` system user when run as root) unless DATABASE_URL is set; its
 * binaries must be on the PATH or in /usr/lib/postgresql/<major>/bin (`apt-get install postgresql`).
 * SIGTERM/SIGINT closes the app and the pool, stops PostgreSQL by pid, removes its folder, exits 0.
 *
 *   node examples/postgres/start.mjs          # PORT=3000 by default
 *   curl 'localhost:3000/report?seconds=30'   # then Ctrl-C it: "cancelled on the server"
 */
import { execFileSync, spawn } from 'node:child_process'
import { once } from 'node:events'
import { accessSync, chownSync, constants, mkdtempSync, readdirSync, rmSync } from 'node:fs'
import { createServer } from 'node:net'
import { tmpdir } from 'node:os'
import { delimiter, join } from 'node:path'
import { pathToFileURL } from 'node:url'
import { isCancellation } from '@taskscope/core'
import concurrencyPlugin from '@taskscope/fastify'
import { cancellable } from '@taskscope/pg'
import Fastify from 'fastify'
import pg from 'pg'

/** The folder holding initdb and postgres: the PATH first, then Debian's /usr/lib/postgresql/<major>/bin. */
function postgresBin() {
  const dirs = (process.env.PATH ?? '').split(delimiter).filter(Boolean)
  try {
    for (const major of readdirSync('/usr/lib/postgresql').sort((a, b) => Number(b) - Number(a)))
      dirs.push(`/usr/lib/postgresql/${major}/bin`)
  } catch {}
  for (const dir of dirs) {
    try {
      accessSync(join(dir, 'initdb'), constants.X_OK)
      accessSync(join(dir, 'postgres'), constants.X_OK)
      return dir
    } catch {}
  }
  throw new Error('PostgreSQL server binaries not found: install them (apt-get install postgresql) or set DATABASE_URL')
}

async function freePort() {
  const server = createServer().listen(0, '127.0.0.1')
  await once(server, 'listening')
  const { port } = server.address()
  server.close()
  await once(server, 'close')
  return port
}

/** Starts a throwaway PostgreSQL; resolves with its URL and a stop() that ends it by pid and removes its folder. */
async function startPostgres() {
  const bin = postgresBin()
  // PostgreSQL refuses to run as root: run it as the postgres system user then.
  const user =
    process.getuid?.() === 0
      ? {
          uid: Number(execFileSync('id', ['-u', 'postgres'], { encoding: 'utf8' })),
          gid: Number(execFileSync('id', ['-g', 'postgres'], { encoding: 'utf8' })),
        }
      : {}
  const dir = mkdtempSync(join(tmpdir(), 'taskscope-example-pg-'))
  if (user.uid !== undefined) chownSync(dir, user.uid, user.gid)
  const data = join(dir, 'data')
  const initdb = spawn(join(bin, 'initdb'), ['-D', data, '-U', 'postgres', '-A', 'trust', '--no-sync', '-E', 'UTF8', '--locale=C'], {
    ...user,
    stdio: 'ignore',
  })
  const [code] = await once(initdb, 'exit')
  if (code !== 0) throw new Error(`initdb failed (${code})`)
  const port = await freePort()
  const settings = { listen_addresses: '127.0.0.1', port, unix_socket_directories: dir, fsync: 'off' }
  const args = ['-D', data, ...Object.entries(settings).flatMap(([name, value]) => ['-c', `${name}=${value}`])]
  // detached: a Ctrl-C in the terminal reaches this process only, which stops PostgreSQL itself.
  const child = spawn(join(bin, 'postgres'), args, { ...user, stdio: ['ignore', 'pipe', 'pipe'], detached: true })
  const exited = once(child, 'exit')
  let log = ''
  await new Promise((resolve, reject) => {
    const onData = (chunk) => {
      log += chunk
      if (log.includes('ready to accept connections')) resolve()
    }
    child.stdout.setEncoding('utf8').on('data', onData)
    child.stderr.setEncoding('utf8').on('data', onData)
    exited.then(([exitCode]) => reject(new Error(`postgres exited (${exitCode}) before it was ready:\n${log}`)))
  })
  console.log(`postgres: pid ${child.pid}`)
  return {
    url: `postgres://postgres@127.0.0.1:${port}/postgres`,
    async stop() {
      if (child.exitCode === null && child.signalCode === null) process.kill(child.pid, 'SIGQUIT')
      await exited
      rmSync(dir, { recursive: true, force: true })
    },
  }
}

/** The app: GET /report?seconds=N runs one slow query on the cancellable pool. */
export async function start({ connectionString, port = 3000, log = console.log } = {}) {
  // Once, at start: every query made under a request (or task) is now cancelled with it.
  const pool = cancellable(new pg.Pool({ connectionString, max: 5 }))
  // A plain connection that watches the server: never cancelled, never wrapped.
  const observer = new pg.Client({ connectionString })
  await observer.connect()
  const app = Fastify({ logger: false })
  await app.register(concurrencyPlugin)

  app.get('/report', async (request) => {
    const seconds = Math.min(Number(request.query.seconds ?? 3) || 3, 60)
    const client = await pool.connect()
    const started = performance.now()
    try {
      log(`report: query started on backend ${client.processID} (pg_sleep(${seconds}))`)
      // No signal passed by hand: the query is made under the request's currentSignal().
      const { rows } = await client.query('select pg_sleep($1), now() as finished_at', [seconds])
      log(`report: query finished after ${Math.round(performance.now() - started)} ms`)
      return { finishedAt: rows[0].finished_at }
    } catch (error) {
      if (isCancellation(error)) {
        const ms = Math.round(performance.now() - started)
        const { rows } = await observer.query('select state from pg_stat_activity where pid = $1', [client.processID])
        log(`report: ${error.name}: query cancelled on the server after ${ms} ms; backend ${client.processID} is now ${rows[0]?.state}`)
      }
      throw error
    } finally {
      client.release()
    }
  })

  // What the server runs right now, seen from the observer connection.
  app.get('/activity', async () => {
    const { rows } = await observer.query(
      `select pid, state, left(query, 60) as query from pg_stat_activity where backend_type = 'client backend' and pid <> pg_backend_pid() order by pid`,
    )
    return rows
  })

  const url = await app.listen({ host: '127.0.0.1', port })
  return {
    url,
    async close() {
      await app.close()
      await pool.end()
      await observer.end()
    },
  }
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  let postgres
  let app
  let stopping
  const stop = (code) => {
    stopping ??= (async () => {
      await app?.close()
      await postgres?.stop()
      process.exitCode = code
    })()
    return stopping
  }
  process.once('SIGTERM', () => stop(0))
  process.once('SIGINT', () => stop(0))
  try {
    if (!process.env.DATABASE_URL) postgres = await startPostgres()
    const connectionString = process.env.DATABASE_URL || postgres.url
    app = await start({ connectionString, port: Number(process.env.PORT ?? 3000) })
    console.log(`PostgreSQL example listening on ${app.url}, database ${connectionString}
  curl '${app.url}/report?seconds=2'     # finishes
  curl '${app.url}/report?seconds=30'    # press Ctrl-C: the query stops on the server
  curl ${app.url}/activity
Ctrl-C stops everything.`)
  } catch (error) {
    console.error(error.message)
    await stop(1)
  }
}
