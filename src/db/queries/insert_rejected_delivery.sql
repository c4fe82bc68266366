INSERT INTO eventsshop.rejected_deliveries (remote_addr, principal, path, byte_size, body_sha256, body,
                                            body_truncated, error)
VALUES (NULLIF($1, '')::inet, $2, $3, $4, $5, $6, $7, $8)
RETURNING id
