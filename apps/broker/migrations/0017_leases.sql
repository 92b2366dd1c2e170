-- Leases (cluster/leases.ts): work that must run once (a replay job, a webhook subscription's
-- pusher, retention…) is run by the broker holding its row. A lease expires by the database's
-- clock unless its holder's heartbeat renews it; a takeover gives it a new epoch from the
-- sequence, never reused, and a holder's writes check their epoch under a share lock of the row.
CREATE SEQUENCE IF NOT EXISTS ql_lease_epochs;
CREATE TABLE IF NOT EXISTS ql_leases (
  name text PRIMARY KEY,
  holder text NOT NULL,
  epoch bigint NOT NULL,
  acquired_at timestamptz NOT NULL DEFAULT now(),
  expires_at timestamptz NOT NULL
);
CREATE INDEX IF NOT EXISTS ql_leases_holder ON ql_leases (holder);

-- The batch a webhook pusher sent and has not seen taken yet, with its idempotency key: the
-- next holder sends exactly it again, under the same key, before anything new.
ALTER TABLE ql_subscriptions ADD COLUMN IF NOT EXISTS webhook_batch jsonb;

-- A dead letter whose copy to the dead-letter topic is not published yet: a broker that died
-- between recording it and publishing the copy leaves it to the sweep.
ALTER TABLE ql_dead_letters ADD COLUMN IF NOT EXISTS copy_pending boolean NOT NULL DEFAULT false;
CREATE INDEX IF NOT EXISTS ql_dead_letters_copy_pending ON ql_dead_letters (id) WHERE copy_pending;

-- The subscription stats the collector (one broker at a time) last computed; every broker's
-- gauges and lag history are fed from here.
CREATE TABLE IF NOT EXISTS ql_subscription_stats (
  subscription_id integer PRIMARY KEY REFERENCES ql_subscriptions (id) ON DELETE CASCADE,
  name text NOT NULL,
  lag bigint NOT NULL,
  pending bigint NOT NULL,
  redelivered bigint NOT NULL,
  dead_letters bigint NOT NULL,
  lag_seconds double precision NOT NULL,
  partitions jsonb NOT NULL,
  collected_at timestamptz NOT NULL DEFAULT now()
);

-- A due scheduled event is claimed by the broker writing it until claimed_until; a claim that
-- lapses (its broker died or stalled) is taken by another.
ALTER TABLE ql_scheduled ADD COLUMN IF NOT EXISTS claimed_by text;
ALTER TABLE ql_scheduled ADD COLUMN IF NOT EXISTS claimed_until timestamptz;
