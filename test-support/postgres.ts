// A real PostgreSQL server for a test file: `initdb` into a temporary folder, `postgres` on a free
// loopback port (its socket folder inside that temporary folder), stopped by pid and removed.
// PostgreSQL refuses to run as root: when this process is root, initdb and postgres run as the
// unprivileged `postgres` system user (spawned with its uid/gid, the folder chown'd to it).
import { type ChildProcess, execFileSync, spawn } from 'node:child_process'
import { once } from 'node:events'
import { accessSync, chownSync, constants, mkdtempSync, readdirSync, rmSync } from 'node:fs'
import { createServer } from 'node:net'
import { tmpdir } from 'node:os'
import { delimiter, join } from 'node:path'

export interface PostgresServer {
  readonly host: '127.0.0.1'
  readonly port: number
  /** The superuser every connection may use (trust authentication on 127.0.0.1): `postgres`. */
  readonly user: string
  /** `postgres://postgres@127.0.0.1:<port>/postgres` */
  readonly url: string
  /** The temporary folder holding the data directory and the server's socket. */
  readonly dir: string
  /** The server's pid (stopped by it). */
  readonly pid: number
  /** Everything the server logged so far. */
  readonly log: string
  /** Stops the server (SIGQUIT: immediate shutdown, by pid), waits for it to exit and removes its folder. */
  stop(): Promise<void>
}

/** The folder holding `initdb` and `postgres`: the PATH first, then Debian's /usr/lib/postgresql/<major>/bin (highest major). */
export function postgresBinDir(): string | undefined {
  const candidates = (process.env.PATH ?? '').split(delimiter).filter(Boolean)
  try {
    const majors = readdirSync('/usr/lib/postgresql')
      .filter((name) => /^\d+$/.test(name))
      .sort((a, b) => Number(b) - Number(a))
    for (const major of majors) candidates.push(`/usr/lib/postgresql/${major}/bin`)
  } catch {
    // no Debian layout here
  }
  for (const dir of candidates) {
    try {
      accessSync(join(dir, 'initdb'), constants.X_OK)
      accessSync(join(dir, 'postgres'), constants.X_OK)
      return dir
    } catch {
      // not in this folder
    }
  }
  return undefined
}

/** Why no PostgreSQL server can be started here, or undefined when one can. */
export function postgresMissing(): string | undefined {
  if (postgresBinDir() === undefined)
    return 'PostgreSQL server binaries (initdb, postgres) are not on the PATH nor in /usr/lib/postgresql/*/bin; Debian: apt-get install postgresql'
  return undefined
}

async function freePort(): Promise<number> {
  const server = createServer().listen(0, '127.0.0.1')
  await once(server, 'listening')
  const { port } = server.address() as { port: number }
  server.close()
  await once(server, 'close')
  return port
}

/** The uid/gid of the `postgres` system user when this process is root (PostgreSQL refuses root), else undefined. */
function unprivilegedUser(): { uid: number; gid: number } | undefined {
  if (process.getuid?.() !== 0) return undefined
  const id = (flag: string): number => Number(execFileSync('id', [flag, 'postgres'], { encoding: 'utf8' }).trim())
  try {
    return { uid: id('-u'), gid: id('-g') }
  } catch (error) {
    throw new Error(
      'This process is root and PostgreSQL refuses to run as root: a `postgres` system user is needed (apt-get install postgresql creates it)',
      {
        cause: error,
      },
    )
  }
}

/** Runs a program to its end as `user`; rejects with its output when it fails. */
async function run(file: string, args: string[], user: { uid: number; gid: number } | undefined): Promise<void> {
  const child = spawn(file, args, { stdio: ['ignore', 'pipe', 'pipe'], ...user, env: { ...process.env, LC_ALL: 'C' } })
  let output = ''
  child.stdout!.setEncoding('utf8').on('data', (chunk: string) => (output += chunk))
  child.stderr!.setEncoding('utf8').on('data', (chunk: string) => (output += chunk))
  const [code, signal] = (await once(child, 'exit')) as [number | null, NodeJS.Signals | null]
  if (code !== 0) throw new Error(`${file} ${args.join(' ')} failed (${code ?? signal}):\n${output}`)
}

/**
 * Starts a throwaway PostgreSQL server on 127.0.0.1 and a free port: `initdb` into a new temporary
 * folder (trust authentication for 127.0.0.1, user `postgres`), then `postgres` with `fsync=off`,
 * its socket folder inside that folder. Resolves once its log says "ready to accept connections".
 * `settings` are extra `-c name=value` server settings (e.g. `{ max_connections: '200' }`).
 *
 * @example
 * ```ts
 * let server: PostgresServer
 * beforeAll(async () => { server = await startPostgres() })
 * afterAll(() => server?.stop())
 * ```
 */
export async function startPostgres(options: { settings?: Record<string, string> } = {}): Promise<PostgresServer> {
  const bin = postgresBinDir()
  if (bin === undefined) throw new Error(postgresMissing())
  const user = unprivilegedUser()
  const dir = mkdtempSync(join(tmpdir(), 'taskscope-pg-'))
  let child: ChildProcess | undefined
  try {
    if (user) chownSync(dir, user.uid, user.gid)
    const data = join(dir, 'data')
    await run(join(bin, 'initdb'), ['-D', data, '-U', 'postgres', '-A', 'trust', '--no-sync', '-E', 'UTF8', '--locale=C'], user)
    const port = await freePort()
    const settings: Record<string, string> = {
      listen_addresses: '127.0.0.1',
      port: String(port),
      unix_socket_directories: dir,
      fsync: 'off',
      synchronous_commit: 'off',
      full_page_writes: 'off',
      ...options.settings,
    }
    const args = ['-D', data, ...Object.entries(settings).flatMap(([name, value]) => ['-c', `${name}=${value}`])]
    child = spawn(join(bin, 'postgres'), args, { stdio: ['ignore', 'pipe', 'pipe'], ...user, env: { ...process.env, LC_ALL: 'C' } })
    const server = child
    let log = ''
    const exited = once(server, 'exit') as Promise<[number | null, NodeJS.Signals | null]>
    await new Promise<void>((resolve, reject) => {
      const onData = (chunk: string): void => {
        log += chunk
        if (log.includes('ready to accept connections')) resolve()
      }
      server.stdout!.setEncoding('utf8').on('data', onData)
      server.stderr!.setEncoding('utf8').on('data', onData)
      server.once('error', reject)
      void exited.then(([code, signal]) => reject(new Error(`postgres exited (${code ?? signal}) before it was ready:\n${log}`)))
    })
    let stopped: Promise<void> | undefined
    return {
      host: '127.0.0.1',
      port,
      user: 'postgres',
      url: `postgres://postgres@127.0.0.1:${port}/postgres`,
      dir,
      pid: server.pid!,
      get log() {
        return log
      },
      stop() {
        stopped ??= (async () => {
          if (server.exitCode === null && server.signalCode === null) process.kill(server.pid!, 'SIGQUIT')
          await exited
          rmSync(dir, { recursive: true, force: true })
        })()
        return stopped
      },
    }
  } catch (error) {
    if (child?.pid !== undefined && child.exitCode === null && child.signalCode === null) {
      const exited = once(child, 'exit')
      process.kill(child.pid, 'SIGQUIT')
      await exited
    }
    rmSync(dir, { recursive: true, force: true })
    throw error
  }
}

/** A connection that runs SQL (a node-postgres Client or Pool; structural, so test-support needs no driver). */
export interface Queryable {
  query(text: string, values?: unknown[]): Promise<{ rows: unknown[] }>
}

/** A backend's row in pg_stat_activity, found by a tag in its SQL (a comment such as `/* tag:abc *\/`). */
export interface Activity {
  pid: number
  state: string | null
  query: string
}

/** The backends whose current or last SQL contains `tag`. */
export async function activity(observer: Queryable, tag: string): Promise<Activity[]> {
  const { rows } = (await observer.query('select pid, state, query from pg_stat_activity where query like $1 and pid <> pg_backend_pid()', [
    `%${tag}%`,
  ])) as { rows: Activity[] }
  return rows
}

/** Waits (polling the server, bounded) until `check` holds for the backends tagged `tag`; returns them. */
export async function untilActivity(
  observer: Queryable,
  tag: string,
  check: (rows: Activity[]) => boolean,
  limit = 2_000,
): Promise<Activity[]> {
  let rows: Activity[] = []
  for (let i = 0; i < limit; i++) {
    rows = await activity(observer, tag)
    if (check(rows)) return rows
    await new Promise((resolve) => setTimeout(resolve, 5))
  }
  throw new Error(`pg_stat_activity never matched for ${tag}: ${JSON.stringify(rows)}`)
}

/** Waits until a backend runs the SQL tagged `tag` (state 'active'). */
export const untilRunning = (observer: Queryable, tag: string): Promise<Activity[]> =>
  untilActivity(observer, tag, (rows) => rows.some((row) => row.state === 'active'))

/** Waits until no backend runs the SQL tagged `tag` any more (its backend idle, or gone). */
export const untilStopped = (observer: Queryable, tag: string): Promise<Activity[]> =>
  untilActivity(observer, tag, (rows) => rows.every((row) => row.state !== 'active'))

let tags = 0
/** A tag unique in this process, to put in a query's SQL as a comment. */
export const newTag = (label = 'q'): string => `ts_${label}_${process.pid}_${++tags}`
