/**
 * The database's connection failed or stalled, the server is shutting down,
 * starting up, read-only (a demoted primary) or full of connections, or a
 * statement ran past its timeout: nothing the request did, and a retry may
 * succeed.
 */
const DATABASE_UNAVAILABLE = new Set([
  'CONNECTION_ENDED',
  'CONNECTION_DESTROYED',
  'CONNECTION_CLOSED',
  'CONNECT_TIMEOUT',
  'ECONNREFUSED',
  'ECONNRESET',
  'EPIPE',
  'ETIMEDOUT',
  'EHOSTUNREACH',
  '08000',
  '08003',
  '08006',
  '25006',
  '55P03',
  '57014',
  '57P01',
  '57P02',
  '57P03',
  '53300',
])

/** The error's code when it says the database is unavailable for now, else undefined. */
export function unavailableCode(e: unknown): string | undefined {
  const code = (e as { code?: unknown } | null)?.code
  return typeof code === 'string' && DATABASE_UNAVAILABLE.has(code) ? code : undefined
}
