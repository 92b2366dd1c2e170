-- Events published for later: kept here until due, then written to the log.
CREATE TABLE IF NOT EXISTS ql_scheduled (
  id         text PRIMARY KEY,
  topic_id   integer NOT NULL REFERENCES ql_topics (id) ON DELETE CASCADE,
  deliver_at timestamptz NOT NULL,
  event      jsonb NOT NULL,
  created_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX IF NOT EXISTS ql_scheduled_due ON ql_scheduled (deliver_at);
