-- Compacted topics (retention/compaction.ts): a topic's cleanup policy and how long its
-- tombstones stay. A compacted topic's branch of the log gets an index on (partition, key,
-- offset) of its own (segments.ts), for the latest value of a key and for compaction itself.
ALTER TABLE ql_topics ADD COLUMN IF NOT EXISTS cleanup text NOT NULL DEFAULT 'delete'
  CHECK (cleanup IN ('delete', 'compact', 'compact,delete'));
ALTER TABLE ql_topics ADD COLUMN IF NOT EXISTS delete_retention_ms bigint NOT NULL DEFAULT 86400000;
-- When a segment was last rewritten by compaction (null: never), by which broker, and what it held then.
ALTER TABLE ql_segments ADD COLUMN IF NOT EXISTS compacted_at timestamptz;
ALTER TABLE ql_segments ADD COLUMN IF NOT EXISTS compacted_by text;
ALTER TABLE ql_segments ADD COLUMN IF NOT EXISTS compacted_rows bigint;
