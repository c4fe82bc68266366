-- A batch in one prepared statement, whatever its size: the bodies and digests travel as two binary
-- blobs (no escaping, no parsing), the other columns as arrays; one plan serves every batch.
-- The digests are claimed in delivery_digests first (the dedupe key: deliveries is partitioned and
-- cannot hold it), in batch order so ids grow with it; the bodies whose claim is new are stored.
-- A body twice in one batch is claimed (and stored) once, by its first occurrence.
WITH r AS (
    SELECT r.kind, r.body_at, r.byte_size, r.remote_addr, r.principal, r.record_count, r.declared_kind,
           r.classification, r.n, substring($2::bytea FROM r.n::integer * 32 - 31 FOR 32) AS body_sha256
    FROM unnest($3::text[], $4::integer[], $5::bigint[], $6::inet[], $7::text[], $8::integer[], $9::text[],
                $10::text[]) WITH ORDINALITY
         AS r(kind, body_at, byte_size, remote_addr, principal, record_count, declared_kind, classification, n)
), first AS (
    SELECT DISTINCT ON (body_sha256) * FROM r ORDER BY body_sha256, n
), claim AS (
    INSERT INTO eventsshop.delivery_digests (body_sha256, delivery_id, received_at)
    SELECT f.body_sha256, nextval('eventsshop.delivery_ids'), clock_timestamp() FROM first f ORDER BY f.n
    ON CONFLICT (body_sha256) DO NOTHING
    RETURNING body_sha256, delivery_id, received_at
)
INSERT INTO eventsshop.deliveries (id, received_at, kind, body, body_sha256, byte_size, remote_addr, principal,
                                   record_count, declared_kind, classification)
SELECT c.delivery_id, c.received_at, f.kind, substring($1::bytea FROM f.body_at FOR f.byte_size::integer),
       c.body_sha256, f.byte_size, f.remote_addr, f.principal, f.record_count, f.declared_kind, f.classification
FROM claim c JOIN first f USING (body_sha256)
ORDER BY c.delivery_id
RETURNING id, received_at::text, body_sha256
