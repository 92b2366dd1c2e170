import { isJsonContentType, NotFoundError, ValidationError, type ValidationIssue } from '@questlog/protocol'
import { Ajv2020, type ValidateFunction } from 'ajv/dist/2020.js'
import type { Sql } from '../storage/db'
import { type NewEvent, payloadOf } from '../storage/event-store'
import type { Topic } from '../topics/topic-service'
import { type Compatibility, checkCompatibility } from './compatibility'

export interface SchemaVersion {
  version: number
  schema: Record<string, unknown>
  createdAt: string
}

interface TopicSchemas {
  loadedAt: number
  latest: number | null
  validators: Map<number, ValidateFunction>
}

// other brokers may register versions: cached knowledge is re-read this often
const CACHE_MS = 2000

/** Versioned JSON Schemas per topic: registration with a compatibility check, and payload validation. */
export class SchemaRegistry {
  private readonly ajv = new Ajv2020({ allErrors: true, strict: false })
  private readonly cache = new Map<number, TopicSchemas>()

  constructor(private readonly sql: Sql) {}

  async register(
    topic: Topic,
    schema: Record<string, unknown>,
    rule?: Compatibility,
  ): Promise<SchemaVersion> {
    try {
      this.ajv.compile(schema)
    } catch (e) {
      throw new ValidationError([
        { path: 'schema', message: `not a usable JSON Schema: ${(e as Error).message}` },
      ])
    }
    return this.sql.begin(async (tx) => {
      // one registration per topic at a time, so versions and checks stay in order
      await tx`SELECT id FROM ql_topics WHERE id = ${topic.id} FOR UPDATE`
      const [prev] = await tx`
        SELECT version, schema::text AS schema FROM ql_schemas WHERE topic_id = ${topic.id} ORDER BY version DESC LIMIT 1`
      const version = prev ? Number(prev.version) + 1 : 1
      if (prev) {
        const problems = checkCompatibility(
          rule ?? topic.schemaCompatibility,
          JSON.parse(prev.schema as string),
          schema,
        )
        if (problems.length > 0) {
          throw new ValidationError(
            problems.map((p) => ({
              path: p.path ? `schema.${p.path}` : 'schema',
              message: `${p.message} (not ${rule ?? topic.schemaCompatibility} compatible with version ${prev.version})`,
            })),
          )
        }
      }
      const [row] = await tx`
        INSERT INTO ql_schemas (topic_id, version, schema) VALUES (${topic.id}, ${version}, ${JSON.stringify(schema)}::jsonb)
        RETURNING created_at`
      this.cache.delete(topic.id)
      return { version, schema, createdAt: new Date(row!.created_at as string).toISOString() }
    })
  }

  async list(topic: Topic): Promise<SchemaVersion[]> {
    const rows = await this.sql`
      SELECT version, schema::text AS schema, created_at FROM ql_schemas WHERE topic_id = ${topic.id} ORDER BY version`
    return rows.map((r) => ({
      version: Number(r.version),
      schema: JSON.parse(r.schema as string) as Record<string, unknown>,
      createdAt: new Date(r.created_at as string).toISOString(),
    }))
  }

  async get(topic: Topic, version: number): Promise<SchemaVersion> {
    const found = (await this.list(topic)).find((v) => v.version === version)
    if (!found)
      throw new NotFoundError(`topic '${topic.name}' has no schema version ${version}`, {
        topic: topic.name,
        version,
      })
    return found
  }

  private async load(topicId: number): Promise<TopicSchemas> {
    const cached = this.cache.get(topicId)
    if (cached && Date.now() - cached.loadedAt < CACHE_MS) return cached
    const [row] = await this.sql`SELECT max(version) AS latest FROM ql_schemas WHERE topic_id = ${topicId}`
    const entry: TopicSchemas = {
      loadedAt: Date.now(),
      latest: row?.latest === null || row?.latest === undefined ? null : Number(row.latest),
      validators: cached?.validators ?? new Map(),
    }
    this.cache.set(topicId, entry)
    return entry
  }

  private async validator(topicId: number, version: number): Promise<ValidateFunction | undefined> {
    const entry = await this.load(topicId)
    let fn = entry.validators.get(version)
    if (!fn) {
      const [row] = await this
        .sql`SELECT schema::text AS schema FROM ql_schemas WHERE topic_id = ${topicId} AND version = ${version}`
      if (!row) return undefined
      fn = this.ajv.compile(JSON.parse(row.schema as string) as Record<string, unknown>)
      entry.validators.set(version, fn)
    }
    return fn
  }

  /**
   * Checks payloads against the version each names (the latest when none).
   * Returns, per event, the schema version used and the problems found (empty when valid);
   * null when the topic has no schemas.
   */
  async check(
    topic: Topic,
    events: NewEvent[],
    schemaVersionOf: (index: number) => number | undefined,
    pathOf: (index: number) => string,
  ): Promise<Array<{ version: number; issues: ValidationIssue[] }> | null> {
    const { latest } = await this.load(topic.id)
    if (latest === null) return null
    const out = []
    for (const [i, e] of events.entries()) {
      const version = schemaVersionOf(i) ?? latest
      const fn = await this.validator(topic.id, version)
      if (!fn) {
        throw new ValidationError([
          {
            path: pathOf(i).replace(/data$/, 'schemaVersion'),
            message: `topic '${topic.name}' has no schema version ${version}`,
          },
        ])
      }
      if (!isJsonContentType(e.contentType)) {
        out.push({
          version,
          issues: [{ path: pathOf(i), message: 'a topic with a schema takes JSON payloads' }],
        })
        continue
      }
      const valid = fn(JSON.parse(e.dataJson ?? payloadOf(e).toString('utf8')))
      const issues = valid
        ? []
        : (fn.errors ?? []).map((err) => ({
            path: [pathOf(i), ...err.instancePath.split('/').filter(Boolean)].join('.'),
            message:
              err.keyword === 'additionalProperties'
                ? `unknown field '${String(err.params.additionalProperty)}'`
                : (err.message ?? 'invalid'),
          }))
      out.push({ version, issues })
    }
    return out
  }
}
