// A throwaway PostgreSQL server for the tests and the bench (plain ESM, typed by postgres-server.d.mts): `initdb` into a temporary folder, `postgres` on a free
// loopback port (its socket folder inside that temporary folder), stopped by pid and removed.
// PostgreSQL refuses to run as root: when this process is root, initdb and postgres run as the
// unprivileged `postgres` system user (spawned with its uid/gid, the folder chown'd to it).
import { execFileSync, spawn } from 'node:child_process'
import { once } from 'node:events'
import { accessSync, chownSync, constants, mkdtempSync, readdirSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { delimiter, join } from 'node:path'
import { serverPort } from './server-port.mjs'

/** The folder holding `initdb` and `postgres`: the PATH first, then Debian's /usr/lib/postgresql/<major>/bin (highest major). */
export function postgresBinDir() {
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
export function postgresMissing() {
  if (postgresBinDir() === undefined)
    return 'PostgreSQL server binaries (initdb, postgres) are not on the PATH nor in /usr/lib/postgresql/*/bin; Debian: apt-get install postgresql'
  return undefined
}

/** The uid/gid of the `postgres` system user when this process is root (PostgreSQL refuses root), else undefined. */
function unprivilegedUser() {
  if (process.getuid?.() !== 0) return undefined
  const id = (flag) => Number(execFileSync('id', [flag, 'postgres'], { encoding: 'utf8' }).trim())
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
async function run(file, args, user) {
  const child = spawn(file, args, { stdio: ['ignore', 'pipe', 'pipe'], ...user, env: { ...process.env, LC_ALL: 'C' } })
  let output = ''
  child.stdout.setEncoding('utf8').on('data', (chunk) => (output += chunk))
  child.stderr.setEncoding('utf8').on('data', (chunk) => (output += chunk))
  const [code, signal] = await once(child, 'exit')
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
export async function startPostgres(options = {}) {
  const bin = postgresBinDir()
  if (bin === undefined) throw new Error(postgresMissing())
  const user = unprivilegedUser()
  const dir = mkdtempSync(join(tmpdir(), 'taskscope-pg-'))
  let child
  try {
    if (user) chownSync(dir, user.uid, user.gid)
    const data = join(dir, 'data')
    await run(join(bin, 'initdb'), ['-D', data, '-U', 'postgres', '-A', 'trust', '--no-sync', '-E', 'UTF8', '--locale=C'], user)
    const port = await serverPort()
    const settings = {
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
    const exited = once(server, 'exit')
    await new Promise((resolve, reject) => {
      const onData = (chunk) => {
        log += chunk
        if (log.includes('ready to accept connections')) resolve()
      }
      server.stdout.setEncoding('utf8').on('data', onData)
      server.stderr.setEncoding('utf8').on('data', onData)
      server.once('error', reject)
      void exited.then(([code, signal]) => reject(new Error(`postgres exited (${code ?? signal}) before it was ready:\n${log}`)))
    })
    let stopped
    return {
      host: '127.0.0.1',
      port,
      user: 'postgres',
      url: `postgres://postgres@127.0.0.1:${port}/postgres`,
      dir,
      pid: server.pid,
      get log() {
        return log
      },
      stop() {
        stopped ??= (async () => {
          if (server.exitCode === null && server.signalCode === null) process.kill(server.pid, 'SIGQUIT')
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
