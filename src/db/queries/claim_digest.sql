-- The first half of storing one delivery (the large lane, a body stored alone): its digest claimed
-- in delivery_digests, the dedupe key (deliveries is partitioned, so it cannot hold a unique key on
-- the digest alone), with the next id of eventsshop.delivery_ids. Nothing (no row) when the same
-- body is stored already; a second session claiming the same digest waits for the first to commit
-- (then gets nothing) or roll back. The row itself follows by COPY, in the same transaction
-- (copy_delivery, delivery_rows.hpp), its body sent in pieces rather than as one parameter.
INSERT INTO eventsshop.delivery_digests (body_sha256, delivery_id, received_at)
VALUES ($1::bytea, nextval('eventsshop.delivery_ids'), clock_timestamp())
ON CONFLICT (body_sha256) DO NOTHING
RETURNING delivery_id, received_at::text
