-- One delivery; nothing (no row returned) when the same body is stored already. The dedupe key is
-- delivery_digests' (deliveries is partitioned, so it cannot hold a unique key on the digest alone):
-- the digest is claimed first, and the body is stored only when the claim is new. A second session
-- claiming the same digest waits for the first to commit (then gets nothing) or roll back.
WITH claim AS (
    INSERT INTO eventsshop.delivery_digests (body_sha256, delivery_id, received_at)
    VALUES ($3::bytea, nextval('eventsshop.delivery_ids'), clock_timestamp())
    ON CONFLICT (body_sha256) DO NOTHING
    RETURNING delivery_id, received_at
)
INSERT INTO eventsshop.deliveries (id, received_at, kind, body, body_sha256, byte_size, remote_addr, principal,
                                   record_count, declared_kind, classification)
SELECT claim.delivery_id, claim.received_at, $1::text, $2::bytea, $3::bytea, $4::bigint, NULLIF($5::text, '')::inet,
       $6::text, $7::integer, NULLIF($8::text, ''), $9::text
FROM claim
RETURNING id, received_at::text
