// The PostgreSQL store (BullMQ's PostgreSQL backend, schema `bullmq` by default): a small pool of
// our own tells whether PostgreSQL answers and reads the queue's latest event id; messages between
// the processes of a queue (cancel requests; removal notices: BullMQ's PostgreSQL backend reports
// no removed job; notices that a job's attempt ended: its event table is read by id, and an event
// whose transaction commits after a later one's is skipped) travel over BullMQ's Relay (whose
// inboxes are acknowledged by id, never skipping a late commit), that is LISTEN/NOTIFY and durable inboxes in
// PostgreSQL itself, never over Redis.
import { createHash } from 'node:crypto'
import { codedError, errorCodes } from '@taskscope/core/adapter'
import {
  type ConnectionOptions,
  createPostgresRelayBackend,
  DEFAULT_SCHEMA,
  isPgPool,
  type PgPool,
  type PostgresConnectionOptions,
  type PostgresPoolConfig,
  quoteSchemaName,
  Relay,
  type RelaySubscription,
} from 'bullmq'
import { within } from './bounded.js'
import type { OnError } from './options.js'
import { postgresBackend } from './postgres-backend.js'
import { isPostgresConnectionError } from './postgres-connection-error.js'
import { type JobMessage, type JobTopic, parseJobMessage, type Store } from './store.js'
import { TroubleReport } from './trouble-report.js'

/**
 * Where PostgreSQL is: a `postgres://` (or `postgresql://`) URL, a `pg.Pool` (yours: it is not
 * closed at shutdown; its `search_path` must include BullMQ's schema), or node-postgres pool
 * settings with BullMQ's own `schema`, `migrate` and `skipVersionCheck` (with `store: 'postgres'`).
 */
export type PostgresConnection = PostgresConnectionOptions

export interface ResolvedPostgres {
  readonly kind: 'postgres'
  /** What BullMQ's classes and its Relay get. */
  readonly options: PostgresConnectionOptions
  readonly label: string
  readonly schema: string
}

/** True for what only PostgreSQL takes: a postgres:// URL or a pg.Pool. */
export function isPostgresConnection(connection: unknown): boolean {
  if (typeof connection === 'string') return /^postgres(ql)?:\/\//i.test(connection)
  return isPgPool(connection)
}

const hidePassword = (url: URL): string => {
  if (url.password !== '') url.password = '***'
  return url.href.replace(/\/$/, '')
}

export function resolvePostgres(connection: unknown): ResolvedPostgres {
  if (typeof connection === 'string') {
    let url: URL
    try {
      url = new URL(connection)
    } catch {
      // Never echo the string: it may hold a password.
      throw codedError(TypeError, errorCodes.invalidArgValue, 'The "connection" option must be a valid postgres:// URL')
    }
    if (url.protocol !== 'postgres:' && url.protocol !== 'postgresql:') {
      throw codedError(
        TypeError,
        errorCodes.invalidArgValue,
        `The "connection" option must be a postgres:// or postgresql:// URL with store: 'postgres'. Received '${url.protocol}' URL`,
      )
    }
    return { kind: 'postgres', options: connection, label: hidePassword(url), schema: DEFAULT_SCHEMA }
  }
  if (isPgPool(connection)) {
    const options = ((connection as { options?: Record<string, unknown> }).options ?? {}) as PostgresPoolConfig
    return { kind: 'postgres', options: connection as PgPool, label: configLabel(options), schema: DEFAULT_SCHEMA }
  }
  if (typeof connection !== 'object' || connection === null || Array.isArray(connection)) {
    throw codedError(
      TypeError,
      errorCodes.invalidArgType,
      'The "connection" option must be a postgres:// URL, a pg.Pool or node-postgres pool settings (an object)',
    )
  }
  const options = { ...(connection as PostgresPoolConfig) }
  const schema = options.schema ?? DEFAULT_SCHEMA
  try {
    quoteSchemaName(schema)
  } catch {
    throw codedError(
      TypeError,
      errorCodes.invalidArgValue,
      `The "connection.schema" option must be a valid schema name. Received '${schema}'`,
    )
  }
  return { kind: 'postgres', options, label: configLabel(options), schema }
}

function configLabel(options: PostgresPoolConfig): string {
  if (typeof options.connectionString === 'string') {
    try {
      return hidePassword(new URL(options.connectionString))
    } catch {
      return 'postgres://(connectionString)'
    }
  }
  const user = typeof options.user === 'string' ? `${options.user}@` : ''
  return `postgres://${user}${options.host ?? 'localhost'}:${options.port ?? 5432}${options.database ? `/${options.database}` : ''}`
}

export function openPostgresStore(resolved: ResolvedPostgres, queue: string, onError: OnError, back: () => void): Store {
  return new PostgresStore(resolved, queue, onError, back)
}

/** How long our own checks wait for a connection before PostgreSQL counts as unreachable. */
const connectTimeoutMs = 2_000
interface Listener {
  readonly topic: JobTopic
  readonly listener: (message: JobMessage) => void
  subscription?: RelaySubscription
}

class PostgresStore implements Store {
  readonly kind = 'postgres'
  readonly label: string
  readonly connection: ConnectionOptions
  // BullMQ's classes take either backend (ours: its connection errors the ones BullMQ retries).
  readonly backend = postgresBackend
  readonly #resolved: ResolvedPostgres
  readonly #queue: string
  readonly #troubles: TroubleReport
  readonly #namespace: string
  readonly #listeners = new Set<Listener>()
  #pool: Promise<PgPool> | undefined
  #ownsPool: boolean
  #relay: Promise<Relay<PostgresConnectionOptions>> | undefined
  #up = false
  #wasUp = false
  #closing = false

  readonly #back: () => void
  #lost = false
  #watch: NodeJS.Timeout | undefined

  constructor(resolved: ResolvedPostgres, queue: string, onError: OnError, back: () => void) {
    this.#back = back
    this.#resolved = resolved
    this.label = resolved.label
    this.connection = resolved.options as unknown as ConnectionOptions
    this.#queue = queue
    this.#troubles = new TroubleReport(onError)
    this.#ownsPool = !isPgPool(resolved.options)
    // The Relay isolates queues by namespace ([A-Za-z0-9_-], 64 at most): one per queue name.
    this.#namespace = `taskscope-${createHash('sha256').update(queue).digest('hex').slice(0, 32)}`
  }

  get ready(): boolean {
    return this.#up
  }

  async connected(): Promise<void> {
    // Known to answer: no round trip (a lost connection says so through `trouble`, `failure`).
    if (this.#up) return
    try {
      const pool = await this.#ownPool()
      await pool.query('SELECT 1')
    } catch (error) {
      this.#down(error)
      throw this.unavailable(error)
    }
    this.#answered()
    if (this.#listeners.size > 0) void this.#ensureRelay().catch(this.trouble)
  }

  async lastEventId(): Promise<string> {
    const pool = await this.#ownPool()
    const table = `${quoteSchemaName(this.#resolved.schema)}.event`
    const { rows } = await pool.query(`SELECT COALESCE(MAX(id), 0)::text AS max FROM ${table} WHERE queue = $1`, [this.#queue])
    return String((rows[0] as { max?: unknown } | undefined)?.max ?? '0')
  }

  async publish(topic: JobTopic, message: JobMessage): Promise<void> {
    const relay = await this.#ensureRelay()
    await relay.publish(topic, message)
  }

  async subscribe(topic: JobTopic, listener: (message: JobMessage) => void): Promise<() => Promise<void>> {
    const entry: Listener = { topic, listener }
    this.#listeners.add(entry)
    const unsubscribe = async (): Promise<void> => {
      this.#listeners.delete(entry)
      await entry.subscription?.unsubscribe().catch(this.trouble)
    }
    const relay = await this.#ensureRelay()
    if (entry.subscription === undefined && this.#listeners.has(entry)) await this.#listen(relay, entry)
    return unsubscribe
  }

  closing(): void {
    this.#closing = true
  }

  async close(away: boolean, ms: number): Promise<void> {
    this.#closing = true
    clearInterval(this.#watch)
    const relay = this.#relay
    this.#relay = undefined
    this.#listeners.clear()
    const pool = this.#pool
    this.#pool = undefined
    await Promise.all([
      // The Relay unregisters its node: with PostgreSQL away, do not wait (its lease expires by itself).
      relay?.then((r) => within(r.close(), away ? 0 : ms)).catch(() => {}),
      this.#ownsPool ? pool?.then((p) => within(p.end(), away ? 0 : ms)).catch(() => {}) : undefined,
    ])
  }

  failure = (error: unknown): never => {
    if (!isPostgresConnectionError(error)) throw error
    this.#down(error)
    throw this.unavailable(error)
  }

  trouble = (error: unknown): void => {
    if (isPostgresConnectionError(error)) {
      this.#down(error)
      return
    }
    this.#troubles.report(error)
  }

  /** PostgreSQL does not answer: reported once (until it answers again), naming the store. */
  #down(error: unknown): void {
    const was = this.#up || this.#wasUp
    this.#up = false
    if (this.#closing || !was) return
    this.#wasUp = false
    this.#lost = true
    this.#watchForReturn()
    const message = `Lost the connection to PostgreSQL at ${this.label} (background queue "${this.#queue}"): reconnecting; jobs stay in PostgreSQL`
    this.#troubles.report(codedError(Error, errorCodes.queueUnavailable, message, { cause: error }))
  }

  /** While PostgreSQL is lost, asks every second whether it is back (then `back` runs). */
  #watchForReturn(): void {
    if (this.#watch !== undefined) return
    this.#watch = setInterval(() => {
      if (this.#closing || !this.#lost) {
        clearInterval(this.#watch)
        this.#watch = undefined
        return
      }
      this.connected().catch(() => {})
    }, 1_000).unref()
  }

  #answered(): void {
    if (!this.#up) this.#troubles.reset()
    this.#up = true
    this.#wasUp = true
    if (this.#lost && !this.#closing) {
      this.#lost = false
      this.#back()
    }
  }

  unavailable(error: unknown): Error {
    const detail = error instanceof Error ? error.message : String(error)
    return codedError(
      Error,
      errorCodes.queueUnavailable,
      `Cannot reach PostgreSQL at ${this.label} for the background queue "${this.#queue}": ${detail}`,
      { cause: error },
    )
  }

  /** Our own small pool (or the app's pg.Pool): checks and reads of our own. */
  #ownPool(): Promise<PgPool> {
    this.#pool ??= (async () => {
      const options = this.#resolved.options
      if (isPgPool(options)) return options
      let pg: { default?: { Pool: new (config: object) => PgPool }; Pool?: new (config: object) => PgPool }
      try {
        pg = await import('pg')
      } catch (error) {
        throw codedError(Error, errorCodes.invalidArgValue, 'A postgres connection needs the "pg" package: npm install pg', {
          cause: error,
        })
      }
      const Pool = (pg.default?.Pool ?? pg.Pool)!
      const {
        schema: _schema,
        migrate: _migrate,
        skipMigrations: _skip,
        skipVersionCheck: _check,
        ...config
      } = typeof options === 'string' ? ({ connectionString: options } as PostgresPoolConfig) : (options as PostgresPoolConfig)
      // Its idle connection stays open (idleTimeoutMillis 0): when PostgreSQL goes away, it says so.
      const pool = new Pool({ ...config, max: 2, connectionTimeoutMillis: connectTimeoutMs, idleTimeoutMillis: 0 })
      // An idle client dropped by a restarting server: trouble, never a crash.
      ;(pool as unknown as { on(event: 'error', listener: (error: Error) => void): void }).on('error', this.trouble)
      return pool
    })()
    return this.#pool
  }

  /** The queue's Relay node (one per registry), started; started again if its first start failed. */
  #ensureRelay(): Promise<Relay<PostgresConnectionOptions>> {
    if (this.#relay !== undefined) return this.#relay
    const relay = new Relay<PostgresConnectionOptions>({
      connection: this.#resolved.options,
      backend: createPostgresRelayBackend,
      namespace: this.#namespace,
      name: `taskscope:${this.#queue}`.slice(0, 256),
    })
    relay.on('error', this.trouble)
    const started = (async () => {
      try {
        await relay.waitUntilReady()
      } catch (error) {
        // Its start cannot be retried: drop it, the next use makes another.
        this.#relay = undefined
        void within(relay.close(), 1_000)
        throw this.unavailable(error)
      }
      for (const entry of this.#listeners) if (entry.subscription === undefined) await this.#listen(relay, entry)
      return relay
    })()
    this.#relay = started
    started.catch(() => {})
    return started
  }

  async #listen(relay: Relay<PostgresConnectionOptions>, entry: Listener): Promise<void> {
    entry.subscription = await relay.subscribe(entry.topic, ({ data }) => {
      const message = parseMessage(data)
      if (message !== undefined) entry.listener(message)
    })
  }
}

function parseMessage(data: unknown): JobMessage | undefined {
  return parseJobMessage(data)
}
