-- Idempotent producers: a producer numbers its events (seq) instead of giving
-- each a dedupe key. One row per producer and partition keeps the last seq
-- stored there; an event at or below it is a repeat. That is one row update
-- per batch instead of a dedupe record per event.
CREATE TABLE IF NOT EXISTS ql_producers (
  topic_id    integer NOT NULL,
  partition   integer NOT NULL,
  producer_id text NOT NULL,
  last_seq    bigint NOT NULL,
  updated_at  timestamptz NOT NULL,
  PRIMARY KEY (topic_id, partition, producer_id)
);

-- Appends a batch to a partition in one call: takes the partition's row lock
-- (offsets are handed out, and become visible, in commit order), drops the
-- rows a producer already stored, claims the dedupe keys, inserts the events,
-- moves the producers' last seq and queues the NOTIFY. Running inside
-- PostgreSQL, the lock is never held across a round trip to the broker, and
-- the broker can pipeline a partition's batches on one connection.
--
-- p_rows is the batch as a JSON array of objects: i id, t type, s source,
-- k key, dk dedupe key, p producer and q its seq, ct content type, h headers
-- (JSON), j payload as JSON, d payload as base64 (when not JSON), ek the
-- sealing key's id. p_producers lists the batch's producers, with the lowest
-- and highest seq each has in it. Returns the first offset and the ordinals (1-based) of
-- the rows dropped as a producer's repeats. Raises SQLSTATE QL409 when a
-- dedupe key is already taken inside the window: the call changes nothing
-- then, and the broker sorts the duplicates out.
CREATE FUNCTION ql_append(
  p_topic integer,
  p_partition integer,
  p_time timestamptz,
  p_dedupe_cutoff timestamptz,
  p_rows json,
  p_count integer,
  p_keyed integer,
  p_producers text[],
  p_min_seqs bigint[],
  p_max_seqs bigint[],
  p_channel text,
  p_notify_prefix text,
  OUT base bigint,
  OUT repeats integer[]
)
LANGUAGE plpgsql AS $$
DECLARE
  kept integer;
  claimed integer;
BEGIN
  -- the partition's row lock first: everything below runs one writer at a time per partition
  SELECT next_offset INTO base FROM ql_partitions
  WHERE topic_id = p_topic AND partition = p_partition
  FOR UPDATE;
  IF NOT FOUND THEN
    RAISE EXCEPTION 'partition % of topic % does not exist', p_partition, p_topic USING ERRCODE = '42P01';
  END IF;

  repeats := '{}';
  -- the rows are looked through only when a producer's lowest seq here is not above its last stored one
  IF cardinality(p_producers) > 0 AND EXISTS (
    SELECT 1 FROM unnest(p_producers, p_min_seqs) AS b(producer_id, min_seq)
    JOIN ql_producers s
      ON s.topic_id = p_topic AND s.partition = p_partition AND s.producer_id = b.producer_id
    WHERE b.min_seq <= s.last_seq AND s.updated_at >= p_dedupe_cutoff
  ) THEN
    SELECT coalesce(array_agg(r.ord ORDER BY r.ord), '{}') INTO repeats
    FROM ROWS FROM (json_to_recordset(p_rows) AS (p text, q bigint)) WITH ORDINALITY AS r(p, q, ord)
    JOIN ql_producers s
      ON s.topic_id = p_topic AND s.partition = p_partition AND s.producer_id = r.p
    WHERE r.q <= s.last_seq AND s.updated_at >= p_dedupe_cutoff;
  END IF;
  kept := p_count - cardinality(repeats);

  IF kept > 0 THEN
    IF p_keyed > 0 THEN
      -- in key order, so two writers claiming overlapping keys lock them in the same order
      WITH c AS (
        INSERT INTO ql_dedupe (topic_id, dedupe_key, event_id, partition, "offset", created_at)
        SELECT p_topic, r.dk, r.i, p_partition,
               base + r.ord - 1 - (SELECT count(*) FROM unnest(repeats) x WHERE x < r.ord), p_time
        FROM ROWS FROM (json_to_recordset(p_rows) AS (i text, dk text)) WITH ORDINALITY AS r(i, dk, ord)
        WHERE r.dk IS NOT NULL AND NOT (r.ord = ANY (repeats))
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
    SELECT p_topic, p_partition,
           base + r.ord - 1 - CASE WHEN cardinality(repeats) = 0 THEN 0
                                   ELSE (SELECT count(*) FROM unnest(repeats) x WHERE x < r.ord) END,
           p_time, r.i, r.t, r.s, r.k, coalesce(r.dk, r.p || ':' || r.q), r.ct, r.h,
           -- a row has d or j; json_to_recordset reads a JSON null in j as SQL NULL
           coalesce(decode(r.d, 'base64'), convert_to(coalesce(r.j::text, 'null'), 'UTF8')), r.ek
    FROM ROWS FROM (json_to_recordset(p_rows)
           AS (i text, t text, s text, k text, dk text, p text, q bigint, ct text, h jsonb, d text, j json, ek text))
         WITH ORDINALITY AS r(i, t, s, k, dk, p, q, ct, h, d, j, ek, ord)
    WHERE cardinality(repeats) = 0 OR NOT (r.ord = ANY (repeats));

    UPDATE ql_partitions SET next_offset = base + kept
    WHERE topic_id = p_topic AND partition = p_partition;

    IF cardinality(p_producers) > 0 THEN
      -- a batch's highest seq is stored, or a repeat at or below the last one: either way the new last
      INSERT INTO ql_producers (topic_id, partition, producer_id, last_seq, updated_at)
      SELECT p_topic, p_partition, b.producer_id, b.max_seq, p_time
      FROM unnest(p_producers, p_max_seqs) AS b(producer_id, max_seq)
      ON CONFLICT (topic_id, partition, producer_id) DO UPDATE
        SET last_seq = CASE WHEN ql_producers.updated_at < p_dedupe_cutoff THEN excluded.last_seq
                            ELSE greatest(ql_producers.last_seq, excluded.last_seq) END,
            updated_at = excluded.updated_at;
    END IF;

    -- delivered at COMMIT, so other brokers never hear of an event before it is visible
    PERFORM pg_notify(p_channel, p_notify_prefix || (base + kept));
  END IF;
END
$$;
