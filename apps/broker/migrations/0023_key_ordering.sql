-- Key-ordered queue subscriptions: events of one key are handed out one at a time, in offset
-- order; different keys in parallel.
ALTER TABLE ql_subscriptions ADD COLUMN IF NOT EXISTS ordering text NOT NULL DEFAULT 'none'
  CHECK (ordering IN ('none', 'key'));

-- The event's key, on pending rows of key-ordered subscriptions (NULL: keyless, or not key-ordered).
-- A key's rows after its first wait with deliver_after = 'infinity' until the one before them is
-- settled (acked, dead-lettered, or gone from the log); the settling transaction releases the next.
ALTER TABLE ql_pending ADD COLUMN IF NOT EXISTS key text;
CREATE INDEX IF NOT EXISTS ql_pending_key ON ql_pending (subscription_id, topic_id, partition, key, "offset")
  WHERE key IS NOT NULL;
