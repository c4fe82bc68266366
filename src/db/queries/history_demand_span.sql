-- hotel_demand_v2's size in pages, and how many pages a batch of about $1 rows takes (from its
-- statistics; schema/003 analyses it). No row once the table is gone.
SELECT pg_relation_size(c.oid) / current_setting('block_size')::bigint,
       greatest(1, floor($1::double precision / greatest(1, c.reltuples / greatest(c.relpages, 1))))::bigint
FROM pg_class c WHERE c.oid = to_regclass('eventsshop.hotel_demand_v2')
