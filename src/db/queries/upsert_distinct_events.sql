-- upsert_events.sql for a statement in which no event is mentioned twice (typed_rows.cpp chooses):
-- each row goes in as it is, under the same ON CONFLICT rule, with no merge to plan or start.
WITH s AS (
\ir parts/events_mentions.sql
)
\ir parts/events_insert.sql
\ir parts/events_single_mention.sql
FROM s
-- Rows are locked in event id order, so two batches sharing events wait for each other rather
-- than deadlock.
ORDER BY 1
\ir parts/events_on_conflict.sql
