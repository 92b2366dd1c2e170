-- The producer's event time (publish `time`, CloudEvents `time`; Kafka's CreateTime), beside the
-- broker's commit time `time` (LogAppendTime). NULL when the producer gave none. A nullable column
-- without a default is a catalog change only, on the partitioned log and each of its tables.
ALTER TABLE ql_events ADD COLUMN IF NOT EXISTS event_time timestamptz;

DROP FUNCTION IF EXISTS ql_append(integer, integer, timestamptz, timestamptz, text[], text[], text[], text[], text[], text[],
                                  text[], bigint[], text[], text[], json, boolean[], integer, text[], bigint[], bigint[],
                                  text, text, bigint, bigint);

-- As in 0012_append_after.sql, with p_event_times, one per event (an empty array when no event
-- has one), stored in event_time.
CREATE FUNCTION ql_append(
  p_topic integer,
  p_partition integer,
  p_time timestamptz,
  p_dedupe_cutoff timestamptz,
  p_ids text[],
  p_types text[],
  p_sources text[],
  p_content_types text[],
  p_keys text[],
  p_dedupe_keys text[],
  p_producers text[],
  p_seqs bigint[],
  p_headers text[],
  p_enc_keys text[],
  p_event_times timestamptz[],
  p_payloads json,
  p_binary boolean[],
  p_keyed integer,
  p_batch_producers text[],
  p_min_seqs bigint[],
  p_max_seqs bigint[],
  p_channel text,
  p_notify_prefix text,
  p_batch bigint,
  p_after bigint,
  OUT base bigint,
  OUT repeats integer[]
)
LANGUAGE plpgsql AS $$
DECLARE
  total integer := cardinality(p_ids);
  kept integer;
  claimed integer;
  previous bigint;
BEGIN
  -- the partition's row lock first: everything below runs one writer at a time per partition
  SELECT next_offset, last_batch INTO base, previous FROM ql_partitions
  WHERE topic_id = p_topic AND partition = p_partition
  FOR UPDATE;
  IF NOT FOUND THEN
    RAISE EXCEPTION 'partition % of topic % does not exist', p_partition, p_topic USING ERRCODE = '42P01';
  END IF;
  IF p_after IS NOT NULL AND previous IS DISTINCT FROM p_after THEN
    RAISE EXCEPTION 'batch % was not stored', p_after USING ERRCODE = 'QL412';
  END IF;

  repeats := '{}';
  -- the rows are looked through only when a producer's lowest seq here is not above its last stored one
  IF cardinality(p_batch_producers) > 0 AND EXISTS (
    SELECT 1 FROM unnest(p_batch_producers, p_min_seqs) AS b(producer_id, min_seq)
    JOIN ql_producers s
      ON s.topic_id = p_topic AND s.partition = p_partition AND s.producer_id = b.producer_id
    WHERE b.min_seq <= s.last_seq AND s.updated_at >= p_dedupe_cutoff
  ) THEN
    SELECT coalesce(array_agg(r.ord ORDER BY r.ord), '{}') INTO repeats
    FROM unnest(p_producers, p_seqs) WITH ORDINALITY AS r(p, q, ord)
    JOIN ql_producers s
      ON s.topic_id = p_topic AND s.partition = p_partition AND s.producer_id = r.p
    WHERE r.q <= s.last_seq AND s.updated_at >= p_dedupe_cutoff;
  END IF;
  kept := total - cardinality(repeats);

  IF kept > 0 THEN
    IF p_keyed > 0 THEN
      -- in key order, so two writers claiming overlapping keys lock them in the same order
      WITH c AS (
        INSERT INTO ql_dedupe (topic_id, dedupe_key, event_id, partition, "offset", created_at)
        SELECT p_topic, r.dk, r.i, p_partition,
               base + r.ord - 1 - (SELECT count(*) FROM unnest(repeats) x WHERE x < r.ord), p_time
        FROM unnest(p_ids, p_dedupe_keys) WITH ORDINALITY AS r(i, dk, ord)
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

    -- arrays shorter than the batch (one element, or none) read as NULL past their end
    INSERT INTO ql_events (topic_id, partition, "offset", time, id, type, source, key, dedupe_key,
                           content_type, headers, data, enc_key, event_time)
    SELECT p_topic, p_partition,
           base + r.ord - 1 - CASE WHEN cardinality(repeats) = 0 THEN 0
                                   ELSE (SELECT count(*) FROM unnest(repeats) x WHERE x < r.ord) END,
           p_time, r.i, coalesce(r.t, p_types[1]), coalesce(r.s, p_sources[1]), r.k,
           coalesce(r.dk, r.p || ':' || r.q), coalesce(r.ct, p_content_types[1]), r.h::jsonb,
           CASE WHEN r.b THEN decode(r.j #>> '{}', 'base64') ELSE convert_to(r.j::text, 'UTF8') END, r.ek, r.et
    FROM ROWS FROM (unnest(p_ids), unnest(p_types), unnest(p_sources), unnest(p_content_types), unnest(p_keys),
                    unnest(p_dedupe_keys), unnest(p_producers), unnest(p_seqs), unnest(p_headers),
                    unnest(p_enc_keys), unnest(p_event_times), json_array_elements(p_payloads), unnest(p_binary))
         WITH ORDINALITY AS r(i, t, s, ct, k, dk, p, q, h, ek, et, j, b, ord)
    WHERE cardinality(repeats) = 0 OR NOT (r.ord = ANY (repeats));


    IF cardinality(p_batch_producers) > 0 THEN
      -- a batch's highest seq is stored, or a repeat at or below the last one: either way the new last
      INSERT INTO ql_producers (topic_id, partition, producer_id, last_seq, updated_at)
      SELECT p_topic, p_partition, b.producer_id, b.max_seq, p_time
      FROM unnest(p_batch_producers, p_max_seqs) AS b(producer_id, max_seq)
      ON CONFLICT (topic_id, partition, producer_id) DO UPDATE
        SET last_seq = CASE WHEN ql_producers.updated_at < p_dedupe_cutoff THEN excluded.last_seq
                            ELSE greatest(ql_producers.last_seq, excluded.last_seq) END,
            updated_at = excluded.updated_at;
    END IF;

    -- delivered at COMMIT, so other brokers never hear of an event before it is visible
    PERFORM pg_notify(p_channel, p_notify_prefix || (base + kept));
  END IF;

  -- (a batch of repeats only is stored too: the batches sent after it follow it)
  UPDATE ql_partitions SET next_offset = base + kept, last_batch = p_batch
  WHERE topic_id = p_topic AND partition = p_partition;
END
$$;

-- as 0013_append_generic_plan.sql did for the function this one replaces
ALTER FUNCTION ql_append(integer, integer, timestamptz, timestamptz, text[], text[], text[], text[], text[], text[],
                         text[], bigint[], text[], text[], timestamptz[], json, boolean[], integer, text[], bigint[],
                         bigint[], text, text, bigint, bigint)
  SET plan_cache_mode = force_generic_plan;
