-- The rejected deliveries received more than $1 days ago: how many, and their size.
SELECT count(*), coalesce(sum(pg_column_size(r.*)), 0)::bigint
FROM eventsshop.rejected_deliveries r WHERE received_at < now() - make_interval(days => $1)
