-- The monthly partitions the rows of hotel_demand_v2's pages [$1, $2) need, made before they move
-- (ensure_partition does nothing for a month that has one). Returns how many it made.
SELECT count(*) FILTER (WHERE eventsshop.ensure_partition('hotel_demand', 'observed_at', s.m))
FROM (SELECT DISTINCT date_trunc('month', observed_at AT TIME ZONE 'UTC')::date AS m
      FROM eventsshop.hotel_demand_v2 WHERE ctid >= $1::tid AND ctid < $2::tid) s
