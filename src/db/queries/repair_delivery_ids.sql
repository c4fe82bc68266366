-- A digest claim drew an id a stored delivery has: eventsshop.delivery_ids was set back (a restore,
-- a switchover). Moves it past every claimed id; last_value (read live, not from the snapshot)
-- covers the ids drawn but not committed yet, which max() cannot see, and keeps it from going back.
-- Run after lock_delivery_ids.sql. Returns the last id taken: the next one drawn is above it.
SELECT setval('eventsshop.delivery_ids',
              greatest((SELECT max(delivery_id) FROM eventsshop.delivery_digests),
                       (SELECT last_value FROM eventsshop.delivery_ids)))
