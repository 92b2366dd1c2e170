import { execFileSync } from 'node:child_process'
import { chmodSync, chownSync, mkdtempSync } from 'node:fs'
import { tmpdir } from 'node:os'
import path from 'node:path'

/** PostgreSQL 15's programs (initdb, postgres, pg_ctl, pg_autoctl's helpers). */
export const PG_BIN = process.env.QUESTLOG_PG_BIN ?? '/usr/lib/postgresql/15/bin'

/**
 * Who PostgreSQL runs as: itself when this process is not root, else the
 * `postgres` OS user (PostgreSQL refuses to run as root).
 */
export function postgresUser(): { uid: number; gid: number } | undefined {
  if (process.getuid?.() !== 0) return undefined
  const uid = Number(execFileSync('id', ['-u', 'postgres'], { encoding: 'utf8' }).trim())
  const gid = Number(execFileSync('id', ['-g', 'postgres'], { encoding: 'utf8' }).trim())
  return { uid, gid }
}

/** A new temporary folder that the PostgreSQL user owns. */
export function postgresTempDir(prefix: string): string {
  const dir = mkdtempSync(path.join(tmpdir(), prefix))
  chmodSync(dir, 0o755)
  const user = postgresUser()
  if (user) chownSync(dir, user.uid, user.gid)
  return dir
}

/** Runs a PostgreSQL program to completion as the PostgreSQL user; throws with its output on failure. */
export function runAsPostgres(cmd: string, args: string[], env: NodeJS.ProcessEnv = {}): string {
  try {
    return execFileSync(cmd, args, {
      ...postgresUser(),
      env: { ...process.env, PATH: `${PG_BIN}:${process.env.PATH}`, ...env },
      encoding: 'utf8',
      stdio: ['ignore', 'pipe', 'pipe'],
      timeout: 120_000,
    })
  } catch (e) {
    const { stdout, stderr } = e as { stdout?: string; stderr?: string }
    throw new Error(`${cmd} ${args.join(' ')} failed: ${stderr || stdout || (e as Error).message}`)
  }
}
