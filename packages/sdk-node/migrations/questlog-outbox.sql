-- The Questlog outbox: run once on the application's own database (it is idempotent).
--   psql "$GAME_DATABASE_URL" -v ON_ERROR_STOP=1 -f node_modules/@questlog/sdk-node/migrations/questlog-outbox.sql
-- or paste it into a migration of the application's own tool (drizzle-kit, knex, ...).
--
-- `publishInTransaction` inserts one row per event inside the application's transaction; a
-- rolled-back transaction leaves none. At COMMIT a deferred trigger numbers the transaction's
-- rows (`seq`) while holding a lock that one committing transaction holds at a time, until its
-- commit is visible: numbers become visible in commit order, without gaps in that order. The
-- broker (QUESTLOG_OUTBOX_DATABASE_URL) relays rows in `seq` order into the log, each under the
-- dedupe key `outbox:<id>` unless it names its own, and deletes them once the log has them.

CREATE TABLE IF NOT EXISTS questlog_outbox (
  id         bigserial PRIMARY KEY,
  -- commit order, set at COMMIT by questlog_outbox_commit(); null until then
  seq        bigint,
  topic      text NOT NULL,
  key        text,
  partition  integer,
  type       text,
  dedupe_key text,
  headers    jsonb,
  -- the payload as JSON text, stored as sent
  data       text NOT NULL,
  created_at timestamptz NOT NULL DEFAULT clock_timestamp(),
  -- why the broker could not publish the row (a topic that does not exist, a payload it refused): kept for a person to look at
  error      text
);

CREATE SEQUENCE IF NOT EXISTS questlog_outbox_seq;
CREATE INDEX IF NOT EXISTS questlog_outbox_pending ON questlog_outbox (seq) WHERE seq IS NOT NULL AND error IS NULL;

CREATE OR REPLACE FUNCTION questlog_outbox_commit() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  -- held to the end of the transaction, so the next committer numbers its rows after this commit is visible
  PERFORM pg_advisory_xact_lock(hashtext('questlog_outbox'));
  UPDATE questlog_outbox SET seq = nextval('questlog_outbox_seq') WHERE id = NEW.id;
  PERFORM pg_notify('questlog_outbox', '');
  RETURN NULL;
END
$$;

DROP TRIGGER IF EXISTS questlog_outbox_commit ON questlog_outbox;
CREATE CONSTRAINT TRIGGER questlog_outbox_commit AFTER INSERT ON questlog_outbox
  DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION questlog_outbox_commit();
