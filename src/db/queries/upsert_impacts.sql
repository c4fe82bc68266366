-- The staged impacts into event_impacts: the last delivery's score per (event, day) wins.
WITH r AS (DELETE FROM pg_temp.esr_impacts_stage RETURNING *)
INSERT INTO eventsshop.event_impacts AS i (event_id, impact_date, impact_score, delivery_id, received_at)
SELECT r.event_id, r.impact_date, r.impact_score, r.delivery_id, r.received_at FROM r
ON CONFLICT (event_id, impact_date) DO UPDATE SET impact_score = EXCLUDED.impact_score,
    delivery_id = EXCLUDED.delivery_id, received_at = EXCLUDED.received_at
WHERE EXCLUDED.delivery_id >= i.delivery_id
