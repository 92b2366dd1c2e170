import { bigint, integer, pgTable, primaryKey, serial, text, timestamp } from 'drizzle-orm/pg-core'

// Ordinary tables; the partitioned log itself (ql_events) is managed with raw
// SQL in segments.ts and event-store.ts, since drizzle does not model partitions.

export const topics = pgTable('ql_topics', {
  id: serial('id').primaryKey(),
  name: text('name').notNull().unique(),
  partitions: integer('partitions').notNull(),
  retentionMs: bigint('retention_ms', { mode: 'number' }),
  retentionBytes: bigint('retention_bytes', { mode: 'number' }),
  dedupeWindowMs: bigint('dedupe_window_ms', { mode: 'number' }).notNull(),
  maxEventBytes: integer('max_event_bytes').notNull(),
  segmentMs: bigint('segment_ms', { mode: 'number' }).notNull(),
  schemaCompatibility: text('schema_compatibility', { enum: ['backward', 'forward', 'full', 'none'] })
    .notNull()
    .default('backward'),
  onInvalid: text('on_invalid', { enum: ['reject', 'dead-letter'] })
    .notNull()
    .default('reject'),
  encryption: text('encryption', { enum: ['none', 'topic', 'per-key'] })
    .notNull()
    .default('none'),
  cleanup: text('cleanup', { enum: ['delete', 'compact', 'compact,delete'] })
    .notNull()
    .default('delete'),
  deleteRetentionMs: bigint('delete_retention_ms', { mode: 'number' }).notNull().default(86_400_000),
  /** The key that created the topic, whose quotas it counts toward (null: an administrator's or the broker's). */
  ownerKey: text('owner_key'),
  createdAt: timestamp('created_at', { withTimezone: true }).notNull().defaultNow(),
})

export const partitions = pgTable(
  'ql_partitions',
  {
    topicId: integer('topic_id').notNull(),
    partition: integer('partition').notNull(),
    nextOffset: bigint('next_offset', { mode: 'number' }).notNull().default(0),
    /** The batch stored last (see migration 0012): the batch sent after it may follow it. */
    lastBatch: bigint('last_batch', { mode: 'number' }),
  },
  (t) => [primaryKey({ columns: [t.topicId, t.partition] })],
)

export const segments = pgTable(
  'ql_segments',
  {
    topicId: integer('topic_id').notNull(),
    startMs: bigint('start_ms', { mode: 'number' }).notNull(),
    endMs: bigint('end_ms', { mode: 'number' }).notNull(),
    tableName: text('table_name').notNull(),
    compactedAt: timestamp('compacted_at', { withTimezone: true }),
    compactedBy: text('compacted_by'),
    compactedRows: bigint('compacted_rows', { mode: 'number' }),
  },
  (t) => [primaryKey({ columns: [t.topicId, t.startMs] })],
)

export const dedupe = pgTable(
  'ql_dedupe',
  {
    topicId: integer('topic_id').notNull(),
    dedupeKey: text('dedupe_key').notNull(),
    eventId: text('event_id').notNull(),
    partition: integer('partition').notNull(),
    offset: bigint('offset', { mode: 'number' }).notNull(),
    createdAt: timestamp('created_at', { withTimezone: true }).notNull(),
  },
  (t) => [primaryKey({ columns: [t.topicId, t.dedupeKey] })],
)

/** An idempotent producer's last seq stored in one partition. */
export const producers = pgTable(
  'ql_producers',
  {
    topicId: integer('topic_id').notNull(),
    partition: integer('partition').notNull(),
    producerId: text('producer_id').notNull(),
    lastSeq: bigint('last_seq', { mode: 'number' }).notNull(),
    updatedAt: timestamp('updated_at', { withTimezone: true }).notNull(),
  },
  (t) => [primaryKey({ columns: [t.topicId, t.partition, t.producerId] })],
)

export type TopicRow = typeof topics.$inferSelect
