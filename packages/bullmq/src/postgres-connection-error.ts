// Which errors mean PostgreSQL went away or does not accept connections yet (not a failed query).

/** PostgreSQL codes of a server going away (admin shutdown, crash, cannot connect now, connection failures). */
const connectionCodes = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'ENOTFOUND',
  'ETIMEDOUT',
  'EHOSTUNREACH',
  'EPIPE',
  '57P01',
  '57P02',
  '57P03',
  '08000',
  '08001',
  '08003',
  '08004',
  '08006',
])

/** Errors of PostgreSQL going down or not coming up (reported once, as our own coded error). */
export function isPostgresConnectionError(error: unknown): boolean {
  const code = (error as { code?: unknown } | null)?.code
  if (typeof code === 'string' && connectionCodes.has(code)) return true
  const message = error instanceof Error ? error.message : ''
  return /Connection terminated|timeout exceeded when trying to connect|Client has encountered a connection error|Connection is closed/i.test(
    message,
  )
}
