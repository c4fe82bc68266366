-- One delivery; nothing (no row returned) when the same body is stored already.
INSERT INTO eventsshop.deliveries (kind, body, body_sha256, byte_size, remote_addr, principal, record_count,
                                   declared_kind, classification)
VALUES ($1, $2, $3, $4, NULLIF($5, '')::inet, $6, $7, NULLIF($8, ''), $9)
ON CONFLICT (body_sha256) DO NOTHING
RETURNING id, received_at::text
