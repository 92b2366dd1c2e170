-- Topics, their partitions' offset counters, and the partitioned event log.

CREATE TABLE IF NOT EXISTS ql_topics (
  id               serial PRIMARY KEY,
  name             text NOT NULL UNIQUE,
  partitions       integer NOT NULL CHECK (partitions > 0),
  retention_ms     bigint,
  retention_bytes  bigint,
  dedupe_window_ms bigint NOT NULL,
  max_event_bytes  integer NOT NULL,
  segment_ms       bigint NOT NULL,
  created_at       timestamptz NOT NULL DEFAULT now()
);

-- One row per partition. Writers take this row's lock for the length of their
-- transaction, so offsets are handed out, and become visible, in commit order.
CREATE TABLE IF NOT EXISTS ql_partitions (
  topic_id    integer NOT NULL REFERENCES ql_topics (id) ON DELETE CASCADE,
  partition   integer NOT NULL,
  next_offset bigint NOT NULL DEFAULT 0,
  PRIMARY KEY (topic_id, partition)
);

-- The log: LIST-partitioned by topic, each topic RANGE-partitioned by time
-- into segments, so retention drops whole tables instead of deleting rows.
CREATE TABLE IF NOT EXISTS ql_events (
  topic_id     integer NOT NULL,
  partition    integer NOT NULL,
  "offset"     bigint NOT NULL,
  time         timestamptz NOT NULL,
  id           text NOT NULL,
  type         text NOT NULL,
  source       text NOT NULL,
  key          text,
  dedupe_key   text,
  content_type text NOT NULL,
  headers      jsonb,
  data         bytea NOT NULL,
  PRIMARY KEY (topic_id, partition, "offset", time)
) PARTITION BY LIST (topic_id);

-- Time-range reads; BRIN stays tiny on append-only, time-ordered segments.
CREATE INDEX IF NOT EXISTS ql_events_time_brin ON ql_events USING brin (time);

CREATE TABLE IF NOT EXISTS ql_segments (
  topic_id   integer NOT NULL REFERENCES ql_topics (id) ON DELETE CASCADE,
  start_ms   bigint NOT NULL,
  end_ms     bigint NOT NULL,
  table_name text NOT NULL,
  PRIMARY KEY (topic_id, start_ms)
);

-- Unique indexes on the partitioned log would have to include its partition
-- keys, so dedupe keys live in their own table.
CREATE TABLE IF NOT EXISTS ql_dedupe (
  topic_id   integer NOT NULL REFERENCES ql_topics (id) ON DELETE CASCADE,
  dedupe_key text NOT NULL,
  event_id   text NOT NULL,
  partition  integer NOT NULL,
  "offset"   bigint NOT NULL,
  created_at timestamptz NOT NULL,
  PRIMARY KEY (topic_id, dedupe_key)
);

CREATE INDEX IF NOT EXISTS ql_dedupe_created_at ON ql_dedupe (topic_id, created_at);
