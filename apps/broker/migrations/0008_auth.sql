-- API keys (only a hash of each secret is kept), broker-wide settings such as
-- the token signing secret, and the audit log of admin actions and auth failures.
CREATE TABLE IF NOT EXISTS ql_api_keys (
  id                   text PRIMARY KEY,
  name                 text NOT NULL,
  secret_hash          text NOT NULL,
  rules                jsonb NOT NULL,
  rate_events_per_sec  integer,
  rate_bytes_per_sec   integer,
  created_at           timestamptz NOT NULL DEFAULT now(),
  expires_at           timestamptz,
  revoked_at           timestamptz
);

CREATE TABLE IF NOT EXISTS ql_settings (
  name  text PRIMARY KEY,
  value text NOT NULL
);

CREATE TABLE IF NOT EXISTS ql_audit (
  id      bigserial PRIMARY KEY,
  at      timestamptz NOT NULL DEFAULT now(),
  key_id  text,
  action  text NOT NULL,
  target  text,
  outcome text NOT NULL,
  details jsonb
);
CREATE INDEX IF NOT EXISTS ql_audit_at ON ql_audit (at);
