-- One batch of the version 2 deliveries: the $1 lowest ids left in deliveries_v2 (its primary key),
-- fewer when their bodies reach $2 bytes (always one), deleted there and inserted into the
-- partitioned table with their ids in the same statement. What is left in deliveries_v2 is what
-- remains to move: a batch rolled back leaves its rows there, one committed leaves none.
WITH b AS (
    SELECT id FROM (SELECT id, byte_size, sum(byte_size) OVER (ORDER BY id) AS upto
                    FROM eventsshop.deliveries_v2 ORDER BY id LIMIT $1) f
    WHERE upto - byte_size < $2
), m AS (
    DELETE FROM eventsshop.deliveries_v2 d USING b WHERE d.id = b.id RETURNING d.*
)
INSERT INTO eventsshop.deliveries (id, received_at, kind, body, body_sha256, byte_size, remote_addr, principal,
                                   record_count, declared_kind, classification, latest_pending)
SELECT id, received_at, kind, body, body_sha256, byte_size, remote_addr, principal, record_count, declared_kind,
       classification, latest_pending
FROM m
