-- Drops the partition $2 of $1 and writes it down in pruned_partitions (schema/007); NULL when it
-- is already gone.
SELECT eventsshop.drop_partition($1, $2)
