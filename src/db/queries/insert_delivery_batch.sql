-- A batch in one prepared statement, whatever its size: the bodies and digests travel as two binary
-- blobs (no escaping, no parsing), the other columns as arrays; one plan serves every batch.
INSERT INTO eventsshop.deliveries (kind, body, body_sha256, byte_size, remote_addr, principal, record_count,
                                   declared_kind, classification)
SELECT r.kind, substring($1::bytea FROM r.body_at FOR r.byte_size::integer),
       substring($2::bytea FROM r.n::integer * 32 - 31 FOR 32), r.byte_size, r.remote_addr, r.principal,
       r.record_count, r.declared_kind, r.classification
FROM unnest($3::text[], $4::integer[], $5::bigint[], $6::inet[], $7::text[], $8::integer[], $9::text[],
            $10::text[]) WITH ORDINALITY
     AS r(kind, body_at, byte_size, remote_addr, principal, record_count, declared_kind, classification, n)
ORDER BY r.n
ON CONFLICT (body_sha256) DO NOTHING
RETURNING id, received_at::text, body_sha256
