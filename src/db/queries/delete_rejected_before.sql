-- At most $2 of the rejected deliveries received more than $1 days ago, oldest first: a bounded
-- DELETE per transaction, so the table is never locked long (rejections are few: no partitions).
DELETE FROM eventsshop.rejected_deliveries
WHERE id IN (SELECT id FROM eventsshop.rejected_deliveries
             WHERE received_at < now() - make_interval(days => $1) ORDER BY received_at LIMIT $2)
