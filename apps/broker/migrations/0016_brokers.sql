-- The broker registry (cluster/registry.ts): every broker on this database upserts its row each
-- heartbeat. Liveness is judged by the database's clock (last_seen against now()), so brokers'
-- own clocks may differ. A clean stop sets stopped_at; a broker that stops beating is dead once
-- its row is older than the configured dead-after time.
CREATE TABLE IF NOT EXISTS ql_brokers (
  id text PRIMARY KEY,
  url text NOT NULL,
  version text NOT NULL,
  started_at timestamptz NOT NULL,
  last_seen timestamptz NOT NULL DEFAULT now(),
  stopped_at timestamptz,
  health jsonb NOT NULL DEFAULT '{}'
);
CREATE INDEX IF NOT EXISTS ql_brokers_last_seen ON ql_brokers (last_seen);
