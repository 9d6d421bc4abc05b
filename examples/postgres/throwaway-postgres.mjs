/**
 * A throwaway PostgreSQL server for the examples (copy it into your own scripts: it needs nothing
 * but Node and PostgreSQL's server binaries): `initdb` into a new temporary folder, `postgres` on
 * 127.0.0.1 and a free port, trust authentication for user `postgres`; `stop()` ends it by pid and
 * removes the folder. PostgreSQL refuses to run as root: when this process is root, initdb and
 * postgres run as the `postgres` system user (which `apt-get install postgresql` creates).
 *
 *   import { postgresMissing, startPostgres } from './throwaway-postgres.mjs'
 *   const postgres = await startPostgres()   // { url, pid, dir, child, stop() }
 *   ...
 *   await postgres.stop()
 *
 * The server is started in its own process group, so that a Ctrl-C in the terminal reaches this
 * process only, which then stops it. If this process exits without calling `stop()` (an uncaught
 * exception), an exit hook still signals the server and removes the folder.
 */
import { execFileSync, spawn } from 'node:child_process'
import { once } from 'node:events'
import { accessSync, chownSync, constants, mkdtempSync, readdirSync, rmSync } from 'node:fs'
import { createServer } from 'node:net'
import { tmpdir } from 'node:os'
import { delimiter, join } from 'node:path'

/** The folder holding `initdb` and `postgres`: the PATH first, then Debian's /usr/lib/postgresql/<major>/bin (highest major); undefined when none does. */
export function postgresBinDir() {
  const dirs = (process.env.PATH ?? '').split(delimiter).filter(Boolean)
  try {
    const majors = readdirSync('/usr/lib/postgresql').filter((name) => /^\d+$/.test(name))
    for (const major of majors.sort((a, b) => Number(b) - Number(a))) dirs.push(`/usr/lib/postgresql/${major}/bin`)
  } catch {
    // not Debian's layout
  }
  for (const dir of dirs) {
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

/** Why no throwaway PostgreSQL can be started here, or undefined when one can. */
export function postgresMissing() {
  if (postgresBinDir() === undefined)
    return 'PostgreSQL server binaries (initdb, postgres) are not on the PATH nor in /usr/lib/postgresql/<major>/bin: apt-get install postgresql'
  return undefined
}

/** A free TCP port on 127.0.0.1 (the OS picks one; it is released before it is returned). */
export async function freePort() {
  const server = createServer().listen(0, '127.0.0.1')
  await once(server, 'listening')
  const { port } = server.address()
  server.close()
  await once(server, 'close')
  return port
}

/** The uid/gid of the `postgres` system user when this process is root, else {}. */
function unprivilegedUser() {
  if (process.getuid?.() !== 0) return {}
  try {
    const id = (flag) => Number(execFileSync('id', [flag, 'postgres'], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).trim())
    return { uid: id('-u'), gid: id('-g') }
  } catch (error) {
    throw new Error(
      'PostgreSQL refuses to run as root, and there is no `postgres` system user to run it as (apt-get install postgresql creates it)',
      {
        cause: error,
      },
    )
  }
}

/** Runs a program to its end as `user`; rejects with its output when it fails. */
async function run(file, args, user) {
  const child = spawn(file, args, { ...user, stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, LC_ALL: 'C' } })
  let output = ''
  child.stdout.setEncoding('utf8').on('data', (chunk) => (output += chunk))
  child.stderr.setEncoding('utf8').on('data', (chunk) => (output += chunk))
  const [code, signal] = await once(child, 'exit')
  if (code !== 0) throw new Error(`${file} failed (${code ?? signal}):\n${output}`)
}

/**
 * Starts a throwaway PostgreSQL server; resolves once it accepts connections with
 * `{ url, pid, dir, child, stop() }`. `stop()` (idempotent) ends the server by pid (SIGQUIT: the
 * data is thrown away, so no checkpoint is waited for) and removes its folder. Rejects with the
 * reason (binaries missing, initdb failed, the server's log) after removing what it made.
 *
 * @param {{ prefix?: string }} [options] `prefix`: the temporary folder's name prefix
 */
export async function startPostgres({ prefix = 'taskscope-example-pg-' } = {}) {
  const bin = postgresBinDir()
  if (bin === undefined) throw new Error(postgresMissing())
  const user = unprivilegedUser()
  const dir = mkdtempSync(join(tmpdir(), prefix))
  let child
  let exited
  let port
  try {
    if (user.uid !== undefined) chownSync(dir, user.uid, user.gid)
    const data = join(dir, 'data')
    await run(join(bin, 'initdb'), ['-D', data, '-U', 'postgres', '-A', 'trust', '--no-sync', '-E', 'UTF8', '--locale=C'], user)
    port = await freePort()
    const settings = { listen_addresses: '127.0.0.1', port, unix_socket_directories: dir, fsync: 'off' }
    const args = ['-D', data, ...Object.entries(settings).flatMap(([name, value]) => ['-c', `${name}=${value}`])]
    // detached: its own process group, so a Ctrl-C in the terminal reaches this process only.
    child = spawn(join(bin, 'postgres'), args, {
      ...user,
      stdio: ['ignore', 'ignore', 'pipe'],
      detached: true,
      env: { ...process.env, LC_ALL: 'C' },
    })
    exited = once(child, 'exit')
    // PostgreSQL logs on stderr: read until it is ready, then drain it unread (a full pipe would block it).
    let log = ''
    await new Promise((resolve, reject) => {
      child.stderr.setEncoding('utf8').on('data', (chunk) => {
        log += chunk
        if (log.includes('ready to accept connections')) resolve()
      })
      child.once('error', reject)
      exited.then(([code, signal]) => reject(new Error(`postgres exited (${code ?? signal}) before it was ready:\n${log}`)))
    })
    child.stderr.removeAllListeners('data')
    child.stderr.resume()
  } catch (error) {
    if (child?.pid !== undefined && child.exitCode === null && child.signalCode === null) {
      process.kill(child.pid, 'SIGQUIT')
      await exited
    }
    rmSync(dir, { recursive: true, force: true })
    throw error
  }
  const server = child
  // If this process exits without stop(): signal the server (it exits on its own) and remove the folder.
  const onExit = () => {
    if (server.exitCode === null && server.signalCode === null) process.kill(server.pid, 'SIGQUIT')
    rmSync(dir, { recursive: true, force: true })
  }
  process.once('exit', onExit)
  let stopped
  return {
    url: `postgres://postgres@127.0.0.1:${port}/postgres`,
    pid: server.pid,
    dir,
    child: server,
    stop() {
      stopped ??= (async () => {
        process.off('exit', onExit)
        if (server.exitCode === null && server.signalCode === null) process.kill(server.pid, 'SIGQUIT')
        await exited
        rmSync(dir, { recursive: true, force: true })
      })()
      return stopped
    },
  }
}
