import type { Sql } from '../storage/db'

export interface AuditEntry {
  keyId: string | null
  action: string
  target: string | null
  outcome: string
  details?: Record<string, unknown>
}

/** Who did what, when: admin actions and refused requests. */
export class AuditLog {
  constructor(private readonly sql: Sql) {}

  async record(e: AuditEntry): Promise<void> {
    await this.sql`INSERT INTO ql_audit (key_id, action, target, outcome, details)
                   VALUES (${e.keyId}, ${e.action}, ${e.target}, ${e.outcome}, ${JSON.stringify(e.details ?? {})}::jsonb)`
  }

  async list(limit: number, before?: number) {
    const rows = await this.sql`
      SELECT id, at, key_id, action, target, outcome, details::text AS details FROM ql_audit
      ${before === undefined ? this.sql`` : this.sql`WHERE id < ${before}`}
      ORDER BY id DESC LIMIT ${limit}`
    return rows.map((r) => ({
      id: Number(r.id),
      at: new Date(r.at as string).toISOString(),
      keyId: (r.key_id as string | null) ?? null,
      action: r.action as string,
      target: (r.target as string | null) ?? null,
      outcome: r.outcome as string,
      details: JSON.parse(r.details as string) as Record<string, unknown>,
    }))
  }
}
