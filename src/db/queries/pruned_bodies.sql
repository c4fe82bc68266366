-- The months of bodies prune dropped that end after $1 ('' all): the deliveries reprocess can no
-- longer rebuild.
SELECT partition_name, to_char(range_from AT TIME ZONE 'UTC', 'YYYY-MM-DD'),
       to_char(range_to AT TIME ZONE 'UTC', 'YYYY-MM-DD'), row_count, first_delivery_id, last_delivery_id
FROM eventsshop.pruned_partitions
WHERE parent = 'deliveries' AND row_count > 0 AND ($1 = '' OR range_to > $1::timestamptz)
ORDER BY range_from
