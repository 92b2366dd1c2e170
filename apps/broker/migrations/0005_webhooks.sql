-- Webhook subscriptions push to an HTTP endpoint; every attempt is recorded.
ALTER TABLE ql_subscriptions ADD COLUMN IF NOT EXISTS webhook jsonb;

CREATE TABLE IF NOT EXISTS ql_webhook_attempts (
  id              bigserial PRIMARY KEY,
  subscription_id integer NOT NULL REFERENCES ql_subscriptions (id) ON DELETE CASCADE,
  at              timestamptz NOT NULL DEFAULT now(),
  events          integer NOT NULL,
  status_code     integer,
  duration_ms     integer NOT NULL,
  error           text
);
CREATE INDEX IF NOT EXISTS ql_webhook_attempts_sub ON ql_webhook_attempts (subscription_id, id);
