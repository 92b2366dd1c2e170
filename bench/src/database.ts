import { chmodSync, mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import path from 'node:path'
import { startEmbeddedPostgres } from '@questlog/broker'
import postgres from 'postgres'

export interface BenchDatabase {
  url: string
  /** How the report names it. */
  description: string
  version: string
  settings: Record<string, string>
  stop(): Promise<void>
}

/** `DATABASE_URL` when given, else an embedded PostgreSQL in a temporary folder removed afterwards. */
export async function openDatabase(env: NodeJS.ProcessEnv): Promise<BenchDatabase> {
  let url = env.DATABASE_URL
  let description = 'DATABASE_URL (an existing server)'
  let stopEmbedded = async () => {}
  if (!url) {
    const dir = mkdtempSync(path.join(tmpdir(), 'questlog-bench-pg-'))
    // as root, PostgreSQL runs as its own user, which must be able to enter the folder
    chmodSync(dir, 0o755)
    const pg = await startEmbeddedPostgres({ dataDir: path.join(dir, 'pg') })
    url = pg.url
    description = 'embedded PostgreSQL (the broker default), private data folder in a temp dir'
    let stopping: Promise<void> | undefined
    stopEmbedded = () => {
      stopping ??= pg.stop().finally(() => rmSync(dir, { recursive: true, force: true }))
      return stopping
    }
  }
  const sql = postgres(url, { max: 1, onnotice: () => {} })
  try {
    const [v] = await sql`SELECT version() AS v`
    const settings: Record<string, string> = {}
    for (const name of ['synchronous_commit', 'fsync', 'wal_level', 'shared_buffers', 'max_wal_size']) {
      const [row] = await sql`SELECT current_setting(${name}) AS s`
      settings[name] = String(row?.s)
    }
    return {
      url,
      description,
      version: String(v?.v).split(' on ')[0] ?? 'unknown',
      settings,
      stop: stopEmbedded,
    }
  } finally {
    await sql.end()
  }
}
