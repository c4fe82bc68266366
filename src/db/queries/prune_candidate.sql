-- The rows of partition $2 of $1 and the delivery ids they name; refuses a month a wrong clock
-- filled (schema/007).
SELECT row_count, first_id, last_id FROM eventsshop.prune_candidate($1, $2)
