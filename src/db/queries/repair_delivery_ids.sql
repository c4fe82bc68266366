-- A digest claim drew an id a stored delivery has: eventsshop.delivery_ids was set back (a restore,
-- a switchover). Moves it past every claimed id, and only ever forward: a setval() to a value read a
-- moment before would undo the nextval() calls of other sessions in between and hand their ids out
-- again (a review measured 366 ids drawn twice in 21,026 repairs racing one session's draws).
-- last_value is read live, not from the snapshot. Run after lock_delivery_ids.sql. Returns the last
-- id taken: the next one drawn is above it.
SELECT CASE WHEN claimed.max_id > s.last_value THEN setval('eventsshop.delivery_ids', claimed.max_id)
            ELSE s.last_value END
FROM (SELECT max(delivery_id) AS max_id FROM eventsshop.delivery_digests) AS claimed, eventsshop.delivery_ids AS s
