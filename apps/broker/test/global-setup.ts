import { chmod, mkdtemp, rm } from 'node:fs/promises'
import os from 'node:os'
import path from 'node:path'
import type { TestProject } from 'vitest/node'
import { startEmbeddedPostgres } from '../src/storage/embedded'

declare module 'vitest' {
  export interface ProvidedContext {
    adminDatabaseUrl: string
  }
}

/**
 * One real PostgreSQL for the whole run: QUESTLOG_TEST_DATABASE_URL when set,
 * otherwise an embedded server in a temporary folder. Each test file then
 * works in a database of its own.
 */
export default async function setup(project: TestProject) {
  const given = process.env.QUESTLOG_TEST_DATABASE_URL
  if (given) {
    project.provide('adminDatabaseUrl', given)
    return
  }
  const dir = await mkdtemp(path.join(os.tmpdir(), 'questlog-test-'))
  // the server runs as the unprivileged postgres user when we are root: it must reach its folder
  await chmod(dir, 0o755)
  const db = await startEmbeddedPostgres({ dataDir: path.join(dir, 'pg') })
  project.provide('adminDatabaseUrl', db.url)
  return async () => {
    await db.stop()
    await rm(dir, { recursive: true, force: true })
  }
}
