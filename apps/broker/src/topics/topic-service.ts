import {
  type CreateTopic,
  type CreateTopicInput,
  createTopicSchema,
  isCompacted,
  isQuestlogError,
  TopicExistsError,
  type TopicInfo,
  TopicNotFoundError,
  type UpdateTopic,
  ValidationError,
} from '@questlog/protocol'
import { asc, count, eq, sql, sum } from 'drizzle-orm'
import type { QuotaOwner } from '../auth/quotas'
import type { Db, DbTransaction, Sql } from '../storage/db'
import { highWatermarks, lowWatermarks } from '../storage/event-store'
import { partitions as partitionsTable, type TopicRow, topics as topicsTable } from '../storage/schema'
import { createTopicLog, dropTopicLog, listSegments, type SegmentRegistry } from '../storage/segments'

export type Topic = TopicRow

const HOUR = 3_600_000

/** Segments default to an hour, or an eighth of a shorter retention so retention stays fine-grained. */
export function defaultSegmentMs(retentionMs: number | null | undefined): number {
  if (!retentionMs) return HOUR
  return Math.min(HOUR, Math.max(1000, Math.floor(retentionMs / 8)))
}

export interface TopicEvents {
  onChanged(name: string): void
  onDeleted(topic: Topic): void
}

/** Topic lifecycle and lookup; both the HTTP API and the tRPC router call this. */
export class TopicService {
  private readonly cache = new Map<string, Topic>()

  constructor(
    private readonly sql: Sql,
    private readonly db: Db,
    private readonly segments: SegmentRegistry,
    private readonly events: TopicEvents,
    private readonly canEncrypt = false,
  ) {}

  private checkEncryption(mode: string | undefined): void {
    if (mode !== undefined && mode !== 'none' && !this.canEncrypt) {
      throw new ValidationError([
        {
          path: 'encryption',
          message: 'the broker has no encryption keys configured (QUESTLOG_ENCRYPTION_KEYS)',
        },
      ])
    }
  }

  /** Drops a cached topic so the next lookup reads it again (another broker changed it). */
  invalidate(name: string): void {
    this.cache.delete(name)
  }

  async find(name: string): Promise<Topic | undefined> {
    const cached = this.cache.get(name)
    if (cached) return cached
    const [row] = await this.db.select().from(topicsTable).where(eq(topicsTable.name, name))
    if (row) this.cache.set(name, row)
    return row
  }

  async get(name: string): Promise<Topic> {
    const topic = await this.find(name)
    if (!topic) throw new TopicNotFoundError(name)
    return topic
  }

  async list(): Promise<Topic[]> {
    return this.db.select().from(topicsTable).orderBy(asc(topicsTable.name))
  }

  /** Creates a topic; with an `owner`, it counts toward that key's quotas of topics and partitions. */
  async create(input: CreateTopic, owner?: QuotaOwner): Promise<Topic> {
    this.checkEncryption(input.encryption)
    const segmentMs = input.segmentMs ?? defaultSegmentMs(input.retentionMs)
    let topic: Topic
    try {
      topic = await this.db.transaction(async (tx) => {
        if (owner) {
          const used = await ownedBy(tx, owner.keyId)
          owner.check('topics', used.topics, 1)
          owner.check('partitions', used.partitions, input.partitions)
        }
        const [row] = await tx
          .insert(topicsTable)
          .values({
            name: input.name,
            partitions: input.partitions,
            retentionMs: input.retentionMs ?? null,
            retentionBytes: input.retentionBytes ?? null,
            dedupeWindowMs: input.dedupeWindowMs,
            maxEventBytes: input.maxEventBytes,
            segmentMs,
            schemaCompatibility: input.schemaCompatibility,
            onInvalid: input.onInvalid,
            encryption: input.encryption,
            cleanup: input.cleanup,
            deleteRetentionMs: input.deleteRetentionMs,
            ownerKey: owner?.keyId ?? null,
          })
          .returning()
        if (!row) throw new Error('insert returned no row')
        await tx
          .insert(partitionsTable)
          .values(
            Array.from({ length: input.partitions }, (_, partition) => ({ topicId: row.id, partition })),
          )
        return row
      })
    } catch (e) {
      if (causeCode(e) === '23505') throw new TopicExistsError(input.name)
      throw e
    }
    await createTopicLog(this.sql, topic.id, isCompacted(topic.cleanup))
    await this.segments.ensure(topic.id, topic.segmentMs, Date.now())
    this.cache.set(topic.name, topic)
    this.events.onChanged(topic.name)
    return topic
  }

  /** The topic, created with these settings if it does not exist yet (races with other creators are fine). */
  async ensure(settings: CreateTopicInput): Promise<Topic> {
    const found = await this.find(settings.name)
    if (found) return found
    try {
      return await this.create(createTopicSchema.parse(settings))
    } catch (e) {
      if (isQuestlogError(e) && e.code === 'topic_exists') return this.get(settings.name)
      throw e
    }
  }

  /** Changes a topic's settings; partitions added by its owner count toward the owner's quota. */
  async update(name: string, patch: UpdateTopic, owner?: QuotaOwner): Promise<Topic> {
    this.checkEncryption(patch.encryption)
    const current = await this.get(name)
    if (isCompacted(current.cleanup) && patch.encryption !== undefined && patch.encryption !== 'none') {
      throw new ValidationError([
        { path: 'encryption', message: 'a compacted topic cannot encrypt its payloads' },
      ])
    }
    if (patch.partitions !== undefined && patch.partitions < current.partitions) {
      throw new ValidationError([
        { path: 'partitions', message: `partitions can only grow (the topic has ${current.partitions})` },
      ])
    }
    // nothing to change (an empty PATCH): drizzle refuses an UPDATE without a SET
    if (Object.values(patch).every((v) => v === undefined)) return current
    const updated = await this.db.transaction(async (tx) => {
      const growth = (patch.partitions ?? current.partitions) - current.partitions
      if (owner && growth > 0 && current.ownerKey === owner.keyId) {
        owner.check('partitions', (await ownedBy(tx, owner.keyId)).partitions, growth)
      }
      const [row] = await tx
        .update(topicsTable)
        .set({
          ...(patch.partitions !== undefined && { partitions: patch.partitions }),
          ...(patch.retentionMs !== undefined && { retentionMs: patch.retentionMs }),
          ...(patch.retentionBytes !== undefined && { retentionBytes: patch.retentionBytes }),
          ...(patch.dedupeWindowMs !== undefined && { dedupeWindowMs: patch.dedupeWindowMs }),
          ...(patch.maxEventBytes !== undefined && { maxEventBytes: patch.maxEventBytes }),
          ...(patch.schemaCompatibility !== undefined && { schemaCompatibility: patch.schemaCompatibility }),
          ...(patch.onInvalid !== undefined && { onInvalid: patch.onInvalid }),
          ...(patch.encryption !== undefined && { encryption: patch.encryption }),
          ...(patch.deleteRetentionMs !== undefined && { deleteRetentionMs: patch.deleteRetentionMs }),
        })
        .where(eq(topicsTable.id, current.id))
        .returning()
      if (!row) throw new TopicNotFoundError(name)
      if (row.partitions > current.partitions) {
        await tx.insert(partitionsTable).values(
          Array.from({ length: row.partitions - current.partitions }, (_, i) => ({
            topicId: row.id,
            partition: current.partitions + i,
          })),
        )
      }
      return row
    })
    this.cache.set(name, updated)
    this.events.onChanged(name)
    return updated
  }

  async delete(name: string): Promise<void> {
    const topic = await this.get(name)
    await this.sql.begin(async (tx) => {
      await dropTopicLog(tx, topic.id)
      await tx`DELETE FROM ql_topics WHERE id = ${topic.id}`
      // after the topic row: that delete waited for writers holding its partitions, so their records are visible
      await tx`DELETE FROM ql_dedupe WHERE topic_id = ${topic.id}`
      await tx`DELETE FROM ql_producers WHERE topic_id = ${topic.id}`
    })
    this.cache.delete(name)
    this.segments.forget(topic.id)
    this.events.onDeleted(topic)
    this.events.onChanged(name)
  }

  /** The topic's settings with per-partition watermarks, size and event count. */
  async describe(name: string): Promise<TopicInfo> {
    const topic = await this.get(name)
    const [high, low, segs] = await Promise.all([
      highWatermarks(this.sql, topic.id),
      lowWatermarks(this.sql, topic.id),
      listSegments(this.sql, topic.id),
    ])
    const partitionInfo = [...high.keys()].map((p) => ({
      partition: p,
      earliest: String(low.get(p) ?? high.get(p)),
      next: String(high.get(p)),
    }))
    const events = partitionInfo.reduce((sum, p) => sum + (Number(p.next) - Number(p.earliest)), 0)
    return {
      ...toTopicInfo(topic),
      sizeBytes: segs.reduce((sum, s) => sum + s.bytes, 0),
      events,
      partitionInfo,
    }
  }
}

export function toTopicInfo(t: Topic): TopicInfo {
  return {
    name: t.name,
    partitions: t.partitions,
    retentionMs: t.retentionMs,
    retentionBytes: t.retentionBytes,
    dedupeWindowMs: t.dedupeWindowMs,
    maxEventBytes: t.maxEventBytes,
    segmentMs: t.segmentMs,
    schemaCompatibility: t.schemaCompatibility,
    onInvalid: t.onInvalid,
    encryption: t.encryption,
    cleanup: t.cleanup,
    deleteRetentionMs: t.deleteRetentionMs,
    createdAt: t.createdAt.toISOString(),
  }
}

/**
 * What a key's topics hold, read under a lock of that key held to the end of
 * the transaction, so two creations at once cannot both pass its quota.
 */
async function ownedBy(tx: DbTransaction, keyId: string): Promise<{ topics: number; partitions: number }> {
  await tx.execute(sql`SELECT pg_advisory_xact_lock(hashtext(${`ql-quota:${keyId}`}))`)
  const [row] = await tx
    .select({ topics: count(), partitions: sum(topicsTable.partitions).mapWith(Number) })
    .from(topicsTable)
    .where(eq(topicsTable.ownerKey, keyId))
  return { topics: row?.topics ?? 0, partitions: row?.partitions ?? 0 }
}

function causeCode(e: unknown): string | undefined {
  let cur: unknown = e
  for (let i = 0; i < 4 && cur; i++) {
    const code = (cur as { code?: unknown }).code
    if (typeof code === 'string') return code
    cur = (cur as { cause?: unknown }).cause
  }
  return undefined
}
