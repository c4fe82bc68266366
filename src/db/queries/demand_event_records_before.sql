-- The event records of city-wide demand deliveries received more than $1 days ago (when their
-- delivery was received: delivery_digests keeps it even once the body is pruned): how many, and
-- their size.
SELECT count(*), coalesce(sum(pg_column_size(r.*)), 0)::bigint
FROM eventsshop.demand_event_records r
JOIN eventsshop.delivery_digests d ON d.delivery_id = r.delivery_id
WHERE d.received_at < now() - make_interval(days => $1)
