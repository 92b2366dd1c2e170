-- A scheduled event on an encrypted topic waits with its payload sealed under
-- the key that will seal it in the log (a player's data key on a per-key
-- topic), so erasing that key before it is due leaves nothing readable:
-- `event` then holds the event without `data`/`dataBase64`.
ALTER TABLE ql_scheduled ADD COLUMN IF NOT EXISTS sealed bytea;
ALTER TABLE ql_scheduled ADD COLUMN IF NOT EXISTS enc_key text;
