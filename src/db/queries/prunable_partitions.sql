-- The monthly partitions of $1 (deliveries or hotel_demand) that ended more than $2 days ago,
-- oldest first, with their size and PostgreSQL's estimate of their rows. Never a month at or after
-- a large hoteldemand delivery whose hotel_demand_latest update is still pending: finishing it
-- reads that delivery's rows.
SELECT p.partition_name, to_char(p.range_from AT TIME ZONE 'UTC', 'YYYY-MM-DD'),
       to_char(p.range_to AT TIME ZONE 'UTC', 'YYYY-MM-DD'), p.bytes,
       greatest(c.reltuples, 0)::bigint
FROM eventsshop.partitions_ending_by($1, least(now() - make_interval(days => $2),
                                               (SELECT min(received_at) FROM eventsshop.deliveries WHERE latest_pending))) p
JOIN pg_class c ON c.oid = format('eventsshop.%I', p.partition_name)::regclass
