import { drizzle } from 'drizzle-orm/postgres-js'
import postgres from 'postgres'
import * as schema from './schema'

export type Sql = postgres.Sql
export type Db = ReturnType<typeof createDrizzle>
export type DbTransaction = Parameters<Parameters<Db['transaction']>[0]>[0]

export function createSql(url: string, max: number): Sql {
  return postgres(url, {
    max,
    idle_timeout: 30,
    connect_timeout: 10,
    onnotice: () => {},
  })
}

export function createDrizzle(sql: Sql) {
  return drizzle(sql, { schema })
}
export type TransactionSql = postgres.TransactionSql
