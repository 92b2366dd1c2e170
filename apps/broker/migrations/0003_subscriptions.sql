-- Subscriptions: named consumers of a topic or topic pattern, in stream
-- (consumer group) or queue (per-event ack) mode. Stream-mode committed
-- offsets live in ql_consumer_offsets under the subscription's name.

CREATE TABLE IF NOT EXISTS ql_subscriptions (
  id                 serial PRIMARY KEY,
  name               text NOT NULL UNIQUE,
  topic_pattern      text NOT NULL,
  type_filter        text,
  mode               text NOT NULL CHECK (mode IN ('stream', 'queue')),
  start              jsonb NOT NULL,
  ack_wait_ms        integer NOT NULL,
  max_deliveries     integer NOT NULL,
  backoff_ms         integer[] NOT NULL,
  session_timeout_ms integer NOT NULL,
  paused             boolean NOT NULL DEFAULT false,
  -- bumped when positions move back (reset, redrive): members re-read from the committed offsets
  epoch              integer NOT NULL DEFAULT 0,
  created_at         timestamptz NOT NULL DEFAULT now()
);

-- Queue mode: how far each partition has been handed out.
CREATE TABLE IF NOT EXISTS ql_sub_positions (
  subscription_id integer NOT NULL REFERENCES ql_subscriptions (id) ON DELETE CASCADE,
  topic_id        integer NOT NULL REFERENCES ql_topics (id) ON DELETE CASCADE,
  partition       integer NOT NULL,
  next_offset     bigint NOT NULL,
  PRIMARY KEY (subscription_id, topic_id, partition)
);

-- Queue mode: events handed out and not yet acked, or waiting for a redelivery.
-- `attempt` identifies the current delivery; an ack must name it.
CREATE TABLE IF NOT EXISTS ql_pending (
  subscription_id integer NOT NULL REFERENCES ql_subscriptions (id) ON DELETE CASCADE,
  topic_id        integer NOT NULL REFERENCES ql_topics (id) ON DELETE CASCADE,
  partition       integer NOT NULL,
  "offset"        bigint NOT NULL,
  deliveries      integer NOT NULL DEFAULT 0,
  attempt         text,
  member          text,
  deliver_after   timestamptz NOT NULL,
  PRIMARY KEY (subscription_id, topic_id, partition, "offset")
);
CREATE INDEX IF NOT EXISTS ql_pending_due ON ql_pending (subscription_id, deliver_after);

-- Stream mode: the members of each group and when they were last heard from.
CREATE TABLE IF NOT EXISTS ql_sub_members (
  subscription_id integer NOT NULL REFERENCES ql_subscriptions (id) ON DELETE CASCADE,
  member          text NOT NULL,
  last_seen       timestamptz NOT NULL,
  PRIMARY KEY (subscription_id, member)
);

-- Dead letters: what gave up, why, and where its copy sits in the dead-letter topic.
CREATE TABLE IF NOT EXISTS ql_dead_letters (
  id              bigserial PRIMARY KEY,
  subscription_id integer NOT NULL REFERENCES ql_subscriptions (id) ON DELETE CASCADE,
  topic_id        integer NOT NULL REFERENCES ql_topics (id) ON DELETE CASCADE,
  partition       integer NOT NULL,
  "offset"        bigint NOT NULL,
  reason          text NOT NULL,
  deliveries      integer NOT NULL,
  dlq_partition   integer,
  dlq_offset      bigint,
  dead_at         timestamptz NOT NULL DEFAULT now(),
  redriven_at     timestamptz
);
CREATE INDEX IF NOT EXISTS ql_dead_letters_sub ON ql_dead_letters (subscription_id, id);

CREATE TABLE IF NOT EXISTS ql_replay_jobs (
  id          text PRIMARY KEY,
  topic_id    integer NOT NULL REFERENCES ql_topics (id) ON DELETE CASCADE,
  spec        jsonb NOT NULL,
  status      text NOT NULL CHECK (status IN ('pending', 'running', 'done', 'failed', 'cancelled')),
  -- per partition: [next offset to scan, end offset (exclusive)]
  ranges      jsonb NOT NULL,
  total       bigint NOT NULL,
  scanned     bigint NOT NULL DEFAULT 0,
  delivered   bigint NOT NULL DEFAULT 0,
  error       text,
  created_at  timestamptz NOT NULL DEFAULT now(),
  updated_at  timestamptz NOT NULL DEFAULT now()
);
