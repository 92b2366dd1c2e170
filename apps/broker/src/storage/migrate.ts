import { existsSync } from 'node:fs'
import { readdir, readFile } from 'node:fs/promises'
import path from 'node:path'
import { fileURLToPath } from 'node:url'
import type { Sql } from './db'

/** The package's migrations folder, found upwards from this module (run from src/ or from the dist/ bundle). */
function migrationsDir(): string {
  let dir = path.dirname(fileURLToPath(import.meta.url))
  for (;;) {
    const candidate = path.join(dir, 'migrations')
    if (existsSync(candidate)) return candidate
    const up = path.dirname(dir)
    if (up === dir) throw new Error('the broker cannot find its migrations folder')
    dir = up
  }
}
const MIGRATIONS_DIR = migrationsDir()
// Any constant works; it keeps two brokers starting together from migrating at once.
const MIGRATION_LOCK = 0x5155_4c47

/** Applies the committed SQL migrations not yet applied, in name order, each in its own transaction. */
export async function migrate(sql: Sql): Promise<string[]> {
  const files = (await readdir(MIGRATIONS_DIR)).filter((f) => f.endsWith('.sql')).sort()
  const applied: string[] = []
  await sql.begin(async (tx) => {
    await tx`SELECT pg_advisory_xact_lock(${MIGRATION_LOCK})`
    await tx`CREATE TABLE IF NOT EXISTS ql_migrations (name text PRIMARY KEY, applied_at timestamptz NOT NULL DEFAULT now())`
    const done = new Set((await tx`SELECT name FROM ql_migrations`).map((r) => r.name as string))
    for (const file of files) {
      if (done.has(file)) continue
      await tx.unsafe(await readFile(path.join(MIGRATIONS_DIR, file), 'utf8'))
      await tx`INSERT INTO ql_migrations (name) VALUES (${file})`
      applied.push(file)
    }
  })
  return applied
}
