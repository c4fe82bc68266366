-- The delivery that stored this body first. Its row may be gone (its partition dropped by retention):
-- it is a duplicate all the same, of kind unclassified and no records as far as can be told.
SELECT g.delivery_id, coalesce(d.kind, 'unclassified'), coalesce(d.record_count, 0)
FROM eventsshop.delivery_digests g
LEFT JOIN eventsshop.deliveries d ON d.id = g.delivery_id AND d.received_at = g.received_at
WHERE g.body_sha256 = $1
