-- Per-key rate limits held for the whole cluster (auth/rate-limiter.ts): one token bucket per key
-- and unit, refilled at the key's rate by the database's clock and holding a second's worth at
-- most. Brokers take tokens in chunks and spend them locally.
CREATE TABLE IF NOT EXISTS ql_rate_buckets (
  key_id text NOT NULL,
  unit text NOT NULL,
  tokens double precision NOT NULL,
  at timestamptz NOT NULL,
  PRIMARY KEY (key_id, unit)
);

-- Takes `p_want` tokens (at least `p_need`, else none) from the bucket; returns what was granted
-- and what the bucket holds after.
CREATE OR REPLACE FUNCTION ql_rate_take(p_key text, p_unit text, p_rate double precision,
                                        p_need double precision, p_want double precision)
RETURNS TABLE (granted double precision, available double precision)
LANGUAGE plpgsql AS $$
DECLARE
  cur double precision;
  t timestamptz := clock_timestamp();
BEGIN
  INSERT INTO ql_rate_buckets (key_id, unit, tokens, at) VALUES (p_key, p_unit, p_rate, t)
  ON CONFLICT (key_id, unit) DO NOTHING;
  SELECT least(p_rate, b.tokens + greatest(0, extract(epoch FROM (t - b.at))) * p_rate) INTO cur
  FROM ql_rate_buckets b WHERE b.key_id = p_key AND b.unit = p_unit FOR UPDATE;
  granted := CASE WHEN cur >= p_need THEN least(cur, greatest(p_need, p_want)) ELSE 0 END;
  available := cur - granted;
  UPDATE ql_rate_buckets SET tokens = available, at = t WHERE key_id = p_key AND unit = p_unit;
  RETURN NEXT;
END $$;

-- Quotas of sessions a key holds open (streams, connections, waiting confirmations) for the
-- whole cluster (auth/quota-slots.ts): each broker leases slots of a key's quota; a dead or
-- stopped broker's slots count for nobody.
CREATE TABLE IF NOT EXISTS ql_quota_slots (
  key_id text NOT NULL,
  kind text NOT NULL,
  broker_id text NOT NULL,
  slots integer NOT NULL,
  PRIMARY KEY (key_id, kind, broker_id)
);

-- Leases up to `p_want` more slots to `p_broker` within `p_limit` over the live brokers; returns
-- the broker's slots after. One key's leases are serialized by an advisory lock of the key.
CREATE OR REPLACE FUNCTION ql_quota_take(p_key text, p_kind text, p_broker text, p_limit integer,
                                         p_want integer, p_dead_secs double precision)
RETURNS integer
LANGUAGE plpgsql AS $$
DECLARE
  others integer;
  mine integer;
BEGIN
  PERFORM pg_advisory_xact_lock(hashtext('ql_quota|' || p_key || '|' || p_kind));
  SELECT coalesce(sum(q.slots), 0) INTO others FROM ql_quota_slots q
  JOIN ql_brokers b ON b.id = q.broker_id
  WHERE q.key_id = p_key AND q.kind = p_kind AND q.broker_id <> p_broker
    AND b.stopped_at IS NULL AND b.last_seen > now() - make_interval(secs => p_dead_secs);
  SELECT coalesce(max(slots), 0) INTO mine FROM ql_quota_slots
  WHERE key_id = p_key AND kind = p_kind AND broker_id = p_broker;
  mine := mine + greatest(0, least(p_want, p_limit - others - mine));
  INSERT INTO ql_quota_slots (key_id, kind, broker_id, slots) VALUES (p_key, p_kind, p_broker, mine)
  ON CONFLICT (key_id, kind, broker_id) DO UPDATE SET slots = excluded.slots;
  RETURN mine;
END $$;
