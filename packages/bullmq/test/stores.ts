// The stores the distributed suites run on, each a real server started here on a free loopback
// port and stopped by pid: redis-server, and PostgreSQL (initdb into a temporary folder, run as the
// `postgres` user when this process is root, BullMQ's schema migrated). Faults for the fault
// tests: freeze (SIGSTOP) and thaw (SIGCONT), kill and restart on the same port and data (which
// test-support's startPostgres, made to be thrown away, does not do).
import { type ChildProcess, execFileSync, spawn } from 'node:child_process'
import { once } from 'node:events'
import { chownSync, mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { postgresBinDir, postgresMissing } from '@taskscope/test-support'
import { runMigrations } from 'bullmq'
import pg from 'pg'
import { freePort } from './redis-server.ts'

export type StoreKind = 'redis' | 'postgres'

export interface StoreServer {
  readonly kind: StoreKind
  /** What `connection` gets. */
  readonly url: string
  /** The same, with a password in it (the server does not check it): messages must never show it. */
  readonly urlWithPassword: string
  /** SIGSTOP: the server stops answering, its sockets stay open. */
  freeze(): void
  /** SIGCONT. */
  thaw(): void
  /** Kills the server (Redis: SIGKILL; PostgreSQL: SIGQUIT, its crash-like immediate stop) and waits for it to exit. */
  kill(): Promise<void>
  /** Starts it again on the same port, with the same data (what it had written survives). */
  restart(): Promise<void>
  stop(): Promise<void>
}

/** Starts a process and resolves once `ready` appears in its output. */
async function startProcess(
  file: string,
  args: string[],
  ready: string,
  user?: { uid: number; gid: number },
): Promise<{ child: ChildProcess; exited: Promise<unknown> }> {
  // Its own process group (pid = group id): a freeze reaches PostgreSQL's backends too.
  const child = spawn(file, args, { stdio: ['ignore', 'pipe', 'pipe'], detached: true, ...user, env: { ...process.env, LC_ALL: 'C' } })
  const exited = once(child, 'exit')
  let output = ''
  await new Promise<void>((resolve, reject) => {
    const onData = (chunk: string): void => {
      output += chunk
      if (output.includes(ready)) resolve()
    }
    child.stdout!.setEncoding('utf8').on('data', onData)
    child.stderr!.setEncoding('utf8').on('data', onData)
    child.once('error', reject)
    void exited.then(([code, signal]) => reject(new Error(`${file} exited (${code ?? signal}) before it was ready:\n${output}`)))
  })
  return { child, exited }
}

function signal(child: ChildProcess, name: NodeJS.Signals, group = false): void {
  if (child.exitCode === null && child.signalCode === null) process.kill(group ? -child.pid! : child.pid!, name)
}

/** redis-server with an append-only file synced at every write: a killed server loses nothing. */
export async function startRedisStore(): Promise<StoreServer> {
  const port = await freePort()
  const dir = mkdtempSync(join(tmpdir(), 'taskscope-redis-'))
  const args = ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--dir', dir, '--appendonly', 'yes', '--appendfsync', 'always']
  let server = await startProcess('redis-server', args, 'Ready to accept connections')
  return {
    kind: 'redis',
    url: `redis://127.0.0.1:${port}`,
    urlWithPassword: `redis://:s3cret-pass@127.0.0.1:${port}`,
    freeze: () => signal(server.child, 'SIGSTOP'),
    thaw: () => signal(server.child, 'SIGCONT'),
    async kill() {
      signal(server.child, 'SIGKILL')
      await server.exited
    },
    async restart() {
      server = await startProcess('redis-server', args, 'Ready to accept connections')
    },
    async stop() {
      signal(server.child, 'SIGCONT')
      signal(server.child, 'SIGKILL')
      await server.exited
      rmSync(dir, { recursive: true, force: true })
    },
  }
}

function postgresBin(): string {
  const dir = postgresBinDir()
  if (dir === undefined) throw new Error(postgresMissing())
  return dir
}

/** A PostgreSQL server in a temporary folder, BullMQ's schema migrated (as a deploy step would). */
export async function startPostgresStore(): Promise<StoreServer> {
  const bin = postgresBin()
  const id = (flag: string): number => Number(execFileSync('id', [flag, 'postgres'], { encoding: 'utf8' }).trim())
  const user = process.getuid?.() === 0 ? { uid: id('-u'), gid: id('-g') } : undefined
  const dir = mkdtempSync(join(tmpdir(), 'taskscope-pg-'))
  if (user) chownSync(dir, user.uid, user.gid)
  const data = join(dir, 'data')
  const init = spawn(join(bin, 'initdb'), ['-D', data, '-U', 'postgres', '-A', 'trust', '--no-sync', '-E', 'UTF8', '--locale=C'], {
    stdio: 'ignore',
    ...user,
  })
  const [code] = await once(init, 'exit')
  if (code !== 0) throw new Error(`initdb failed (${code})`)
  const port = await freePort()
  const settings = { listen_addresses: '127.0.0.1', port: String(port), unix_socket_directories: dir, fsync: 'off', max_connections: '300' }
  const args = ['-D', data, ...Object.entries(settings).flatMap(([name, value]) => ['-c', `${name}=${value}`])]
  const start = () => startProcess(join(bin, 'postgres'), args, 'ready to accept connections', user)
  let server = await start()
  const url = `postgres://postgres@127.0.0.1:${port}/postgres`
  const pool = new pg.Pool({ connectionString: url, max: 1 })
  const client = await pool.connect()
  try {
    await runMigrations(client)
  } finally {
    client.release()
    await pool.end()
  }
  return {
    kind: 'postgres',
    url,
    urlWithPassword: `postgres://postgres:s3cret-pass@127.0.0.1:${port}/postgres`,
    freeze: () => signal(server.child, 'SIGSTOP', true),
    thaw: () => signal(server.child, 'SIGCONT', true),
    async kill() {
      signal(server.child, 'SIGQUIT')
      await server.exited
    },
    async restart() {
      server = await start()
    },
    async stop() {
      signal(server.child, 'SIGCONT', true)
      signal(server.child, 'SIGQUIT')
      await server.exited
      rmSync(dir, { recursive: true, force: true })
    },
  }
}

export const startStore = (kind: StoreKind): Promise<StoreServer> => (kind === 'redis' ? startRedisStore() : startPostgresStore())
