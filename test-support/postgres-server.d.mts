// Types of postgres-server.mjs.

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
export function postgresBinDir(): string | undefined

/** Why no PostgreSQL server can be started here, or undefined when one can. */
export function postgresMissing(): string | undefined

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
export function startPostgres(options?: { settings?: Record<string, string> }): Promise<PostgresServer>
