-- The next page of what reprocess_count counts, after id $3, $4 at most: ids, sizes and kinds, no bodies.
-- Keyset pagination: the selection is fixed by id, so rows reprocess reclassifies (and so no longer
-- match $1) are neither revisited nor skipped.
SELECT id, received_at::text, declared_kind, kind, byte_size FROM eventsshop.deliveries
WHERE ($1 = '' OR kind = $1) AND ($2 = '' OR received_at >= $2::timestamptz) AND id > $3
ORDER BY id LIMIT $4
