-- Quotas per key (auth/quotas.ts): what a key created counts toward its own
-- quotas, so topics and subscriptions record the key that created them (NULL:
-- an administrator's, the broker's own, or one made before quotas). A key may
-- be given quotas of its own instead of the broker's defaults.
ALTER TABLE ql_topics ADD COLUMN IF NOT EXISTS owner_key text;
ALTER TABLE ql_subscriptions ADD COLUMN IF NOT EXISTS owner_key text;
ALTER TABLE ql_api_keys ADD COLUMN IF NOT EXISTS quotas jsonb NOT NULL DEFAULT '{}';
CREATE INDEX IF NOT EXISTS ql_topics_owner ON ql_topics (owner_key) WHERE owner_key IS NOT NULL;
CREATE INDEX IF NOT EXISTS ql_subscriptions_owner ON ql_subscriptions (owner_key) WHERE owner_key IS NOT NULL;
