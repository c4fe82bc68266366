-- Drops partition $2 of $1 (rows $3, delivery ids $4 to $5) and writes it down in
-- pruned_partitions; false when it keeps it (schema/007).
SELECT eventsshop.drop_partition($1, $2, $3, $4, $5)
