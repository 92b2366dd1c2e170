import { drizzle } from 'drizzle-orm/postgres-js'
import postgres from 'postgres'
import { writableDatabaseUrl } from './database-url'
import * as schema from './schema'

export type Sql = postgres.Sql
export type Db = ReturnType<typeof createDrizzle>
export type DbTransaction = Parameters<Parameters<Db['transaction']>[0]>[0]

export interface SqlOptions {
  /** How the connections name themselves in pg_stat_activity. */
  applicationName?: string
  /** The server cancels a statement that runs longer (unset: no limit). */
  statementTimeoutMs?: number
  /** The server gives up on a lock it waits for longer (unset: no limit). */
  lockTimeoutMs?: number
}

/**
 * A pool (or, with `max` 1, one connection) on `url`. With several hosts the
 * client connects to the writable one and, after a failover, finds the new one
 * whenever a connection is made again.
 */
export function createSql(url: string, max: number, o: SqlOptions = {}): Sql {
  const connection: Record<string, string> = {
    application_name: o.applicationName ?? 'questlog',
    // a broker that died inside a transaction must not hold its locks for good
    idle_in_transaction_session_timeout: '60000',
  }
  if (o.statementTimeoutMs !== undefined) connection.statement_timeout = String(o.statementTimeoutMs)
  if (o.lockTimeoutMs !== undefined) connection.lock_timeout = String(o.lockTimeoutMs)
  return postgres(writableDatabaseUrl(url), {
    max,
    idle_timeout: 30,
    connect_timeout: 10,
    onnotice: () => {},
    connection,
  })
}

export function createDrizzle(sql: Sql) {
  return drizzle(sql, { schema })
}
export type TransactionSql = postgres.TransactionSql
