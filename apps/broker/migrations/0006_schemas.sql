-- Schema registry: versioned JSON Schemas per topic, and what a topic does with an event that fails its schema.
CREATE TABLE IF NOT EXISTS ql_schemas (
  topic_id   integer NOT NULL REFERENCES ql_topics (id) ON DELETE CASCADE,
  version    integer NOT NULL,
  schema     jsonb NOT NULL,
  created_at timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (topic_id, version)
);

ALTER TABLE ql_topics ADD COLUMN IF NOT EXISTS schema_compatibility text NOT NULL DEFAULT 'backward';
ALTER TABLE ql_topics ADD COLUMN IF NOT EXISTS on_invalid text NOT NULL DEFAULT 'reject';
