-- A dedupe record is written for every keyed event; the foreign key's check on
-- each row cost more than the insert itself. Deleting a topic now removes its
-- records itself (TopicService.delete), after the topic row is gone.
ALTER TABLE ql_dedupe DROP CONSTRAINT IF EXISTS ql_dedupe_topic_id_fkey;
