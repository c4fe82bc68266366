-- Takes delivery $1's pending hotel_demand_latest update for this transaction: a row when it is
-- still pending and no other writer (another instance's large lane, reprocess) holds it; none
-- otherwise, and the caller leaves it. Without it every instance's large lane, finding the same
-- pending delivery between deliveries, rewrote the same matrix at once (correct, as the update is
-- idempotent, but seconds of work done N times, each waiting on the others' row locks).
SELECT 1 FROM eventsshop.deliveries WHERE id = $1 AND latest_pending FOR UPDATE SKIP LOCKED
