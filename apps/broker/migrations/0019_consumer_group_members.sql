-- WebSocket consumer groups (subscribe with `group`): the live members of each group on each topic,
-- and per partition who reads it and exactly what it handed out. A member heartbeats its row; one
-- silent past its own session timeout is gone, and the partitions it held may be claimed.
CREATE TABLE IF NOT EXISTS ql_group_members (
  group_name         text NOT NULL,
  topic_id           integer NOT NULL REFERENCES ql_topics (id) ON DELETE CASCADE,
  member             text NOT NULL,
  session_timeout_ms integer NOT NULL,
  last_seen          timestamptz NOT NULL,
  PRIMARY KEY (group_name, topic_id, member)
);

-- next_offset stays the floor (everything below is done). Above it, a group member also keeps
-- read_to (handed out up to here, exclusive) and unacked (the offsets below read_to handed out and
-- not acked): a new owner redelivers only those, then reads on from read_to, so nothing acked comes
-- again. owner is the member reading the partition (NULL once released); claim changes with every
-- claim, and a commit names it, so an owner that lost the partition writes nothing.
ALTER TABLE ql_consumer_offsets
  ADD COLUMN IF NOT EXISTS read_to bigint,
  ADD COLUMN IF NOT EXISTS unacked bigint[] NOT NULL DEFAULT '{}',
  ADD COLUMN IF NOT EXISTS owner text,
  ADD COLUMN IF NOT EXISTS claim text;
