-- One call appends a batch to a partition: it takes the partition's row lock
-- (offsets are handed out, and become visible, in commit order), claims the
-- batch's dedupe keys, inserts the events and queues the NOTIFY. Running it
-- inside PostgreSQL means the lock is never held across a round trip to the
-- broker, and the broker can pipeline a partition's batches on one connection.
--
-- p_rows is the batch as a JSON array of objects: i id, t type, s source,
-- k key, dk dedupe key, ct content type, h headers (JSON), j payload as JSON,
-- d payload as base64 (when it is not JSON), ek the sealing key's id.
-- Raises SQLSTATE QL409 when a dedupe key is already taken inside the window:
-- the call changes nothing then, and the broker sorts the duplicates out.
CREATE OR REPLACE FUNCTION ql_append(
  p_topic integer,
  p_partition integer,
  p_time timestamptz,
  p_dedupe_cutoff timestamptz,
  p_rows json,
  p_count integer,
  p_keyed integer,
  p_channel text,
  p_notify_prefix text
) RETURNS bigint
LANGUAGE plpgsql AS $$
DECLARE
  base bigint;
  claimed integer;
BEGIN
  UPDATE ql_partitions SET next_offset = next_offset + p_count
  WHERE topic_id = p_topic AND partition = p_partition
  RETURNING next_offset - p_count INTO base;
  IF NOT FOUND THEN
    RAISE EXCEPTION 'partition % of topic % does not exist', p_partition, p_topic USING ERRCODE = '42P01';
  END IF;

  IF p_keyed > 0 THEN
    -- in key order, so two writers claiming overlapping keys lock them in the same order
    WITH c AS (
      INSERT INTO ql_dedupe (topic_id, dedupe_key, event_id, partition, "offset", created_at)
      SELECT p_topic, r.dk, r.i, p_partition, base + r.ord - 1, p_time
      FROM ROWS FROM (json_to_recordset(p_rows) AS (i text, dk text)) WITH ORDINALITY AS r(i, dk, ord)
      WHERE r.dk IS NOT NULL
      ORDER BY r.dk
      ON CONFLICT (topic_id, dedupe_key) DO UPDATE
        SET event_id = excluded.event_id, partition = excluded.partition,
            "offset" = excluded."offset", created_at = excluded.created_at
        WHERE ql_dedupe.created_at < p_dedupe_cutoff
      RETURNING 1
    )
    SELECT count(*) INTO claimed FROM c;
    IF claimed < p_keyed THEN
      RAISE EXCEPTION 'dedupe keys already taken' USING ERRCODE = 'QL409';
    END IF;
  END IF;

  INSERT INTO ql_events (topic_id, partition, "offset", time, id, type, source, key, dedupe_key,
                         content_type, headers, data, enc_key)
  SELECT p_topic, p_partition, base + r.ord - 1, p_time, r.i, r.t, r.s, r.k, r.dk, r.ct, r.h,
         -- a row has d or j; json_to_recordset reads a JSON null in j as SQL NULL
         coalesce(decode(r.d, 'base64'), convert_to(coalesce(r.j::text, 'null'), 'UTF8')), r.ek
  FROM ROWS FROM (json_to_recordset(p_rows)
         AS (i text, t text, s text, k text, dk text, ct text, h jsonb, d text, j json, ek text))
       WITH ORDINALITY AS r(i, t, s, k, dk, ct, h, d, j, ek, ord);

  -- delivered at COMMIT, so other brokers never hear of an event before it is visible
  PERFORM pg_notify(p_channel, p_notify_prefix || (base + p_count));
  RETURN base;
END
$$;
