-- Where each durable consumer group stands: per topic partition, the next offset
-- it has not acked. A subscriber that names its group resumes here after a restart.
CREATE TABLE IF NOT EXISTS ql_consumer_offsets (
  group_name  text NOT NULL,
  topic_id    integer NOT NULL REFERENCES ql_topics (id) ON DELETE CASCADE,
  partition   integer NOT NULL,
  next_offset bigint NOT NULL CHECK (next_offset >= 0),
  updated_at  timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (group_name, topic_id, partition)
);
