-- Queue subscriptions: events that were delivered more than once and are settled (acked, termed or
-- dead-lettered), with the attempt that settled them. A late ack of an earlier attempt then reads
-- attempt_expired, as it does while the redelivery is still held, rather than "not found". Kept a
-- day; only redelivered events are recorded, so an ordinary ack writes nothing here.
CREATE TABLE IF NOT EXISTS ql_settled (
  subscription_id integer NOT NULL REFERENCES ql_subscriptions (id) ON DELETE CASCADE,
  topic_id        integer NOT NULL,
  partition       integer NOT NULL,
  "offset"        bigint NOT NULL,
  -- NULL when no attempt settled it (it ran out of deliveries)
  attempt         text,
  settled_at      timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (subscription_id, topic_id, partition, "offset")
);
CREATE INDEX IF NOT EXISTS ql_settled_age ON ql_settled (subscription_id, settled_at);
