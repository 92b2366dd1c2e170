-- ql_append's statements are planned once per connection and the plan kept:
-- PostgreSQL otherwise planned most of them again at every call (its plan
-- cache kept preferring a plan made for the call's own arrays), about a fifth
-- of the backend's CPU per append of a few events. The plans do not depend on
-- the batch: each statement reads the arrays in order or looks rows up by key.
ALTER FUNCTION ql_append(integer, integer, timestamptz, timestamptz, text[], text[], text[], text[], text[], text[],
                         text[], bigint[], text[], text[], json, boolean[], integer, text[], bigint[], bigint[],
                         text, text, bigint, bigint)
  SET plan_cache_mode = force_generic_plan;
