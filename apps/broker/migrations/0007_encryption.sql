-- Payload encryption at rest: which key sealed each event, per-topic mode, and
-- per-event-key data keys (wrapped by a configured master key) for erasure.
ALTER TABLE ql_events ADD COLUMN IF NOT EXISTS enc_key text;
ALTER TABLE ql_topics ADD COLUMN IF NOT EXISTS encryption text NOT NULL DEFAULT 'none';

CREATE TABLE IF NOT EXISTS ql_data_keys (
  topic_id      integer NOT NULL REFERENCES ql_topics (id) ON DELETE CASCADE,
  event_key     text NOT NULL,
  master_key_id text NOT NULL,
  wrapped       bytea NOT NULL,
  created_at    timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (topic_id, event_key)
);
