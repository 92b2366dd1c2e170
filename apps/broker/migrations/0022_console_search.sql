-- A payload as JSON for the console's field search, or NULL when its bytes are not valid JSON
-- text: a search over many events must not fail on one that was stored as sent.
CREATE OR REPLACE FUNCTION ql_try_jsonb(data bytea) RETURNS jsonb
LANGUAGE plpgsql IMMUTABLE PARALLEL SAFE AS $$
BEGIN
  RETURN convert_from(data, 'UTF8')::jsonb;
EXCEPTION WHEN others THEN
  RETURN NULL;
END;
$$;
